// KernelMarginEngine: the AssemblyScript kernel (assembly/) over the structure-of-arrays book
// in WASM linear memory. The book's typed arrays are views of that memory, so the aggregate
// writes inputs straight where the kernel reads them. Semantics: those of reference.ts, bit
// for bit (the differential tests in test/margin hold the two together).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { instantiateSync } from "@assemblyscript/loader";
import {
  BOOK_FIELDS,
  DEFAULT_CAPACITY,
  KERNEL_FIELDS,
  bookViews,
  checkCapacity,
  checkOutputs,
  fieldBytes,
  grownCapacity,
  inputErrorMessage,
  layoutFields,
  sameCapacity,
  type Layout,
} from "./book.js";
import { MAX_TIERS, OUTPUTS_FULL, type BookCapacity, type MarginBook, type MarginEngine, type Outputs } from "./engine.js";

// The project's TypeScript libs (ES2023 + @types/node 20) do not declare the WebAssembly
// namespace, so the two pieces used here are typed locally.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}
type WasmModule = object;
const WasmApi = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => WasmModule } }).WebAssembly;

/** The kernel's exports (raw bindings: i64 crosses as bigint). */
interface KernelExports extends Record<string, unknown> {
  readonly memory: WasmMemory;
  layoutTablePtr(): number;
  layoutFieldCount(): number;
  maxTiers(): number;
  computeAll(nPositions: number, nAccounts: number, outputs: number): number;
  computeList(count: number, outputs: number): number;
  errorIndex(): number;
  checkedPositions(): number;
  currentEpoch(): number;
  setEpochForTest(epoch: number): void;
  liquidationPrice(p: number): bigint;
  bankruptcyPrice(p: number): number;
  resultHi(): bigint;
  resultLo(): bigint;
}

/** Bytes the kernel reserves for its layout table (assembly/layout.ts TABLE_BYTES). */
const TABLE_BYTES = 256;
const PAGE_BYTES = 65536;
/** wasm32 linear memory tops out at 4 GiB (65536 pages). */
const MAX_MEMORY_BYTES = 65536 * PAGE_BYTES;
/** Kernel-only error code: a count beyond capacity (assembly/errors.ts ERR_COUNT). */
const ERR_COUNT = 11;

/**
 * build/kernel.wasm of this package: found by walking up from this module to the directory
 * holding package.json, so it works from src/ (vitest) and from dist/src/ (after tsc).
 */
export function kernelWasmPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return join(dir, "build", "kernel.wasm");
    const up = dirname(dir);
    if (up === dir) throw new Error(`kernel: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

let compiled: WasmModule | undefined;

/** The compiled kernel, compiled once per process (synchronously, so engines construct synchronously). */
function kernelModule(): WasmModule {
  if (compiled === undefined) {
    const path = kernelWasmPath();
    if (!existsSync(path)) throw new Error(`kernel: ${path} not found; run \`npm run build:wasm\``);
    compiled = new WasmApi.Module(readFileSync(path));
  }
  return compiled;
}

function checkCount(n: number, cap: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > cap) throw new RangeError(`${what} must be an integer in [0, ${cap}], got ${n}`);
}

function checkPositionIndex(cap: number, p: number, what: string): void {
  if (!Number.isSafeInteger(p) || p < 0 || p >= cap) {
    throw new RangeError(`${what}: position index must be in [0, ${cap}), got ${p}`);
  }
}

export class KernelMarginEngine implements MarginEngine {
  readonly name = "kernel" as const;
  private readonly wasm: KernelExports;
  /** First byte the arrays may use (after the kernel's static data and layout table). */
  private readonly baseBytes: number;
  private layout: Layout;
  private views: MarginBook;
  /** View of the kernel's list region (computeList copies its argument here). */
  private listView: Int32Array;

  constructor(cap: BookCapacity = DEFAULT_CAPACITY) {
    const c = checkCapacity(cap, "KernelMarginEngine");
    // The instance's raw exports, not the loader's demangled wrappers: those spread their
    // arguments and set the argument count on every call (≈ 4% of a steady replay). No
    // export has optional parameters, so the argument count is never read.
    const result = instantiateSync<KernelExports>(kernelModule() as Parameters<typeof instantiateSync>[0], {});
    this.wasm = (result.instance as unknown as { exports: KernelExports }).exports;
    if (this.wasm.layoutFieldCount() !== KERNEL_FIELDS.length || this.wasm.maxTiers() !== MAX_TIERS) {
      throw new Error("kernel: build/kernel.wasm does not match src/margin/book.ts; rebuild it");
    }
    this.baseBytes = (this.wasm.layoutTablePtr() >>> 0) + TABLE_BYTES;
    this.layout = layoutFields(KERNEL_FIELDS, c, this.baseBytes);
    this.growMemoryTo(this.layout.endBytes);
    this.writeTable();
    this.views = bookViews(this.wasm.memory.buffer, this.layout);
    this.listView = this.makeListView();
  }

  get book(): MarginBook {
    return this.views;
  }

  ensureCapacity(cap: BookCapacity): void {
    const old = this.layout;
    const next = grownCapacity(old.capacity, cap);
    if (sameCapacity(next, old.capacity)) return;
    const layout = layoutFields(KERNEL_FIELDS, next, this.baseBytes);
    this.growMemoryTo(layout.endBytes);
    // Only each array's used prefix (up to its last nonzero byte) moves, and only bytes that
    // held old data are zeroed: memory never written stays untouched, so capacity slack and
    // sparse arrays (result lists, scratch) cost address space, not resident memory
    // (docs/kernel.md "Memory"). Fresh pages from memory.grow are zero.
    const bytes = new Uint8Array(this.wasm.memory.buffer);
    const used = KERNEL_FIELDS.map((f, j) => usedBytes(bytes, old.offsets[j]!, fieldBytes(f, old.capacity)));
    relocateFields(bytes, old.offsets, layout.offsets, used);
    this.layout = layout;
    this.writeTable();
    this.views = bookViews(this.wasm.memory.buffer, layout);
    this.listView = this.makeListView();
  }

  computeAll(nPositions: number, nAccounts: number, outputs: Outputs = OUTPUTS_FULL): number {
    const cap = this.layout.capacity;
    checkCount(nPositions, cap.positions, "computeAll: nPositions");
    checkCount(nAccounts, cap.accounts, "computeAll: nAccounts");
    return this.check(this.wasm.computeAll(nPositions, nAccounts, checkOutputs(outputs)));
  }

  computeList(positions: Int32Array, count: number, outputs: Outputs = OUTPUTS_FULL): number {
    checkCount(count, positions.length, "computeList: count");
    if (count > this.layout.capacity.positions) {
      throw new RangeError("computeList: more entries than positions (duplicates)");
    }
    const o = checkOutputs(outputs);
    const view = this.listView;
    if (count <= 32) {
      // A trade's collection: a few entries; a loop beats allocating a subarray view.
      for (let j = 0; j < count; j++) view[j] = positions[j]!;
    } else {
      view.set(positions.subarray(0, count));
    }
    return this.check(this.wasm.computeList(count, o));
  }

  /**
   * Diagnostics: how many positions of the last compute* call took the checked (slow) path
   * instead of the fast one (docs/kernel.md).
   */
  checkedPositions(): number {
    return this.wasm.checkedPositions();
  }

  /**
   * Diagnostics (memory bench): the linear memory's size, and the bytes of every array up to
   * its last nonzero byte — about what is resident, since memory never written is not.
   */
  memoryBytes(): { allocated: number; used: number } {
    const bytes = new Uint8Array(this.wasm.memory.buffer);
    let used = this.baseBytes;
    KERNEL_FIELDS.forEach((f, j) => {
      used += usedBytes(bytes, this.layout.offsets[j]!, fieldBytes(f, this.layout.capacity));
    });
    return { allocated: bytes.length, used };
  }

  /** Test support: the call counter the kernel stamps its scratch records with. */
  epochForTest(set?: number): number {
    if (set !== undefined) this.wasm.setEpochForTest(set);
    return this.wasm.currentEpoch() >>> 0;
  }

  liquidationPrice(p: number): bigint | null {
    checkPositionIndex(this.layout.capacity.positions, p, "liquidationPrice");
    const r = this.wasm.liquidationPrice(p);
    if (r < 0n) this.check(Number(r));
    return r === 0n ? null : r;
  }

  bankruptcyPrice(p: number): bigint | null {
    checkPositionIndex(this.layout.capacity.positions, p, "bankruptcyPrice");
    const r = this.check(this.wasm.bankruptcyPrice(p));
    if (r === 0) return null;
    return (BigInt.asIntN(64, this.wasm.resultHi()) << 64n) + BigInt.asUintN(64, this.wasm.resultLo());
  }

  /** Passes a non-negative kernel result through; turns -code into the RangeError the reference throws. */
  private check(r: number): number {
    if (r >= 0) return r;
    const code = -r;
    const index = this.wasm.errorIndex();
    if (code === ERR_COUNT) throw new RangeError(`kernel: count or index ${index} out of range`);
    throw new RangeError(inputErrorMessage(code, index));
  }

  private growMemoryTo(bytes: number): void {
    if (bytes > MAX_MEMORY_BYTES) throw new RangeError(`kernel: a book of ${bytes} bytes exceeds 4 GiB of linear memory`);
    const have = this.wasm.memory.buffer.byteLength;
    if (bytes <= have) return;
    try {
      this.wasm.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    } catch (e) {
      throw new RangeError(`kernel: cannot grow linear memory to ${bytes} bytes (${String(e)})`);
    }
  }

  /** Writes capacities and field offsets where the kernel reads them (assembly/layout.ts). */
  private writeTable(): void {
    const table = new Uint32Array(this.wasm.memory.buffer, this.wasm.layoutTablePtr() >>> 0, TABLE_BYTES / 4);
    const cap = this.layout.capacity;
    table[0] = cap.positions;
    table[1] = cap.accounts;
    table[2] = cap.instruments;
    table[3] = KERNEL_FIELDS.length;
    this.layout.offsets.forEach((off, j) => {
      table[4 + j] = off;
    });
  }

  private makeListView(): Int32Array {
    const j = KERNEL_FIELDS.findIndex((f) => f.name === "list_positions");
    return new Int32Array(this.wasm.memory.buffer, this.layout.offsets[j]!, this.layout.capacity.positions);
  }
}

/**
 * Bytes of [offset, offset + length) up to and including the last nonzero byte (0: all zero).
 * Scans backwards in 32-bit words; reading never-written memory does not make it resident.
 */
export function usedBytes(bytes: Uint8Array, offset: number, length: number): number {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
    throw new RangeError(`usedBytes: [${offset}, ${offset + length}) outside the buffer`);
  }
  let end = offset + length;
  if (length < 8) {
    while (end > offset && bytes[end - 1] === 0) end--;
    return end - offset;
  }
  while ((bytes.byteOffset + end) % 4 !== 0) {
    if (bytes[end - 1] !== 0) return end - offset;
    end--;
  }
  let start = offset; // length ≥ 8: start ≤ end after aligning both
  while ((bytes.byteOffset + start) % 4 !== 0) start++;
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset + start, (end - start) / 4);
  let w = words.length;
  while (w > 0 && words[w - 1] === 0) w--;
  end = start + 4 * w;
  while (end > offset && bytes[end - 1] === 0) end--;
  return end - offset;
}

/**
 * Moves field j's first used[j] bytes from `from[j]` to `to[j]` and zeroes every other byte
 * that held old data, touching nothing else. Offsets ascend, ranges are disjoint, and no
 * field moves down (to[j] ≥ from[j]: capacities only grow), so moving the last field first
 * never overwrites data not yet moved.
 */
export function relocateFields(bytes: Uint8Array, from: readonly number[], to: readonly number[], used: readonly number[]): void {
  const n = used.length;
  if (from.length !== n || to.length !== n) throw new RangeError("relocateFields: one offset per field");
  for (let j = 0; j < n; j++) {
    const prevEnd = j === 0 ? 0 : from[j - 1]! + used[j - 1]!;
    const prevTo = j === 0 ? 0 : to[j - 1]! + used[j - 1]!;
    if (!(used[j]! >= 0 && from[j]! >= prevEnd && to[j]! >= prevTo && to[j]! >= from[j]! && to[j]! + used[j]! <= bytes.length)) {
      throw new RangeError(`relocateFields: field ${j} overlaps, moves down or leaves the buffer`);
    }
  }
  for (let j = n - 1; j >= 0; j--) {
    if (used[j]! > 0 && to[j] !== from[j]) bytes.copyWithin(to[j]!, from[j]!, from[j]! + used[j]!);
  }
  // Old data outside every new data range (both lists ascend, disjoint) is zeroed.
  for (let j = 0; j < n; j++) {
    let at = from[j]!;
    const end = at + used[j]!;
    for (let g = 0; g < n && at < end; g++) {
      const lo = to[g]!;
      const hi = lo + used[g]!;
      if (hi <= at || lo === hi) continue;
      if (lo >= end) break;
      if (lo > at) bytes.fill(0, at, lo);
      at = hi;
    }
    if (at < end) bytes.fill(0, at, end);
  }
}

/** Sanity: the book views are the first fields of the kernel layout. */
if (KERNEL_FIELDS.slice(0, BOOK_FIELDS.length).some((f, j) => f !== BOOK_FIELDS[j])) {
  throw new Error("kernel: KERNEL_FIELDS must start with BOOK_FIELDS");
}

export function createKernelMarginEngine(cap: BookCapacity = DEFAULT_CAPACITY): KernelMarginEngine {
  return new KernelMarginEngine(cap);
}
