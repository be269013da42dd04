// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320: zlib's crc32) in JavaScript,
// slicing by 4 over 32-bit words. For the journal's records (~100 bytes) it costs fewer
// instructions than a call to zlib.crc32, whose argument checks and native call cost
// more than zlib's own loop (callgrind: ≈ 1.2k instructions per 98-byte record through
// zlib, docs/journal.md). Tested against zlib.crc32.
import { crc32 as zlibCrc32 } from "node:zlib";

const T0 = new Int32Array(256);
const T1 = new Int32Array(256);
const T2 = new Int32Array(256);
const T3 = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  T0[n] = c;
}
for (let n = 0; n < 256; n++) {
  T1[n] = (T0[n]! >>> 8) ^ T0[T0[n]! & 0xff]!;
  T2[n] = (T1[n]! >>> 8) ^ T0[T1[n]! & 0xff]!;
  T3[n] = (T2[n]! >>> 8) ^ T0[T2[n]! & 0xff]!;
}

/** Words are read in the platform's byte order: the word loop is for little-endian only. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * CRC-32 of `words`' bytes [at, at + n), where `bytes` and `words` view the same memory
 * from the same start and `at` is a multiple of 4; equals zlib.crc32 of those bytes.
 */
export function crc32Aligned(bytes: Uint8Array, words: Int32Array, at: number, n: number): number {
  if (!LITTLE_ENDIAN || (at & 3) !== 0) return zlibCrc32(bytes.subarray(at, at + n));
  let c = -1;
  let w = at >> 2;
  const wordsEnd = w + (n >> 2);
  for (; w < wordsEnd; w++) {
    c ^= words[w]!;
    c = T3[c & 0xff]! ^ T2[(c >>> 8) & 0xff]! ^ T1[(c >>> 16) & 0xff]! ^ T0[c >>> 24]!;
  }
  for (let i = wordsEnd << 2, end = at + n; i < end; i++) c = T0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
