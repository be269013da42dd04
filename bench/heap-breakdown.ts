// Heap breakdown of a memory-bench book (docs/kernel.md "Memory"): builds one shape through
// the pipeline, writes a V8 heap snapshot, and sums the self sizes of its nodes by what retains
// them (the shortest path from the GC roots, named by the nearest object with a class name and
// the property path below it), per position. Run after `npm run build`:
//   node --expose-gc dist/bench/heap-breakdown.js [pairs|multi] [positions] [top]
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { buildShape, MEMORY_SHAPES, type MemoryShape } from "./memory.bench.js";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; edge_fields: string[]; node_types: [string[]]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** Classes that name a group (the path below them says which field). */
const OWNERS = new Set([
  "Account", "Position", "Instrument", "Core", "BookSync", "MarkIntervals", "Heap", "Books", "MatchingEngine",
  "KernelMarginEngine", "Balances", "SeenIds", "CompactStringSet",
]);

export interface BreakdownRow {
  readonly group: string;
  readonly bytes: number;
}

/** Self sizes grouped by retainer path; `bytes` summed over all nodes of the group. */
export function heapBreakdown(file: string): { total: number; rows: BreakdownRow[] } {
  const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const m = s.snapshot.meta;
  const NF = m.node_fields.length;
  const EF = m.edge_fields.length;
  const [nTypes] = m.node_types;
  const [eTypes] = m.edge_types;
  const iType = m.node_fields.indexOf("type");
  const iName = m.node_fields.indexOf("name");
  const iSize = m.node_fields.indexOf("self_size");
  const iEdges = m.node_fields.indexOf("edge_count");
  const eType = m.edge_fields.indexOf("type");
  const eName = m.edge_fields.indexOf("name_or_index");
  const eTo = m.edge_fields.indexOf("to_node");
  const { nodes, edges, strings } = s;
  const n = nodes.length / NF;
  const first = new Uint32Array(n + 1);
  for (let i = 0, e = 0; i < n; i++) {
    first[i] = e;
    e += nodes[i * NF + iEdges]! * EF;
  }
  first[n] = edges.length;
  const typeOf = (i: number): string => nTypes[nodes[i * NF + iType]!]!;
  const nameOf = (i: number): string => strings[nodes[i * NF + iName]!]!;
  // Breadth-first from the root: each node's parent on a shortest strong path.
  const parent = new Int32Array(n).fill(-1);
  const via = new Int32Array(n).fill(-1);
  const seen = new Uint8Array(n);
  seen[0] = 1;
  let frontier = [0];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const i of frontier) {
      for (let e = first[i]!; e < first[i + 1]!; e += EF) {
        const t = eTypes[edges[e + eType]!];
        if (t === "weak" || t === "shortcut") continue;
        const j = edges[e + eTo]! / NF;
        if (seen[j] === 1) continue;
        seen[j] = 1;
        parent[j] = i;
        via[j] = e;
        next.push(j);
      }
    }
    frontier = next;
  }
  const edgeName = (e: number): string => {
    const t = eTypes[edges[e + eType]!];
    if (t === "element" || t === "hidden") return "[]";
    const v = edges[e + eName]!;
    const name = t === "property" || t === "internal" || t === "context" ? strings[v]! : String(v);
    return /^\d+$/.test(name) ? "[]" : name; // table slots and indices: one group
  };
  const groups = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < n; i++) {
    const size = nodes[i * NF + iSize]!;
    if (size === 0) continue;
    total += size;
    const t = typeOf(i);
    const path: string[] = [];
    let j = i;
    for (let depth = 0; j > 0 && depth < 8; depth++) {
      if (depth > 0 && ((typeOf(j) === "object" && OWNERS.has(nameOf(j))) || typeOf(j) === "synthetic")) {
        path.unshift(nameOf(j));
        break;
      }
      if (via[j]! < 0) break;
      path.unshift(edgeName(via[j]!));
      j = parent[j]!;
    }
    const what = t === "object" || t === "array" || t === "hidden" ? `${t} ${nameOf(i).slice(0, 40)}` : t;
    const key = `${path.join(".")} (${what})`;
    groups.set(key, (groups.get(key) ?? 0) + size);
  }
  const rows = [...groups].map(([group, bytes]) => ({ group, bytes })).sort((a, b) => b.bytes - a.bytes || (a.group < b.group ? -1 : 1));
  return { total, rows };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const shape = (process.argv[2] ?? "pairs") as MemoryShape;
  if (!MEMORY_SHAPES.includes(shape)) throw new Error(`heap-breakdown: shape must be one of ${MEMORY_SHAPES.join(", ")}`);
  const positions = Number(process.argv[3] ?? 100_000);
  const top = Number(process.argv[4] ?? 30);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("heap-breakdown: run with node --expose-gc");
  const empty = buildShape(shape, positions);
  gc();
  // Both snapshots first: the analysis's own strings must not be in the second one.
  const base = join(tmpdir(), `mmc-heap-${process.pid}-0.heapsnapshot`);
  v8.writeHeapSnapshot(base);
  empty.fill();
  gc();
  const file = join(tmpdir(), `mmc-heap-${process.pid}-1.heapsnapshot`);
  v8.writeHeapSnapshot(file);
  const baseRows = new Map(heapBreakdown(base).rows.map((r) => [r.group, r.bytes]));
  rmSync(base);
  const { total, rows } = heapBreakdown(file);
  rmSync(file);
  const baseTotal = [...baseRows.values()].reduce((a, b) => a + b, 0);
  const grown = rows.map((r) => ({ group: r.group, bytes: r.bytes - (baseRows.get(r.group) ?? 0) })).sort((a, b) => b.bytes - a.bytes);
  const fmt = (b: number): string => (b / positions).toFixed(1).padStart(8);
  process.stdout.write(`${shape}, ${positions} positions: heap grew ${fmt(total - baseTotal)} B per position (snapshot self sizes)\n`);
  for (const r of grown.slice(0, top)) process.stdout.write(`${fmt(r.bytes)}  ${r.group}\n`);
  const rest = grown.slice(top).reduce((a, r) => a + r.bytes, 0);
  process.stdout.write(`${fmt(rest)}  (the rest)\n`);
  void empty.core; // keep the engine alive until the snapshot is taken
}
