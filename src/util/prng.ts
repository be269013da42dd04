// Small deterministic PRNG for tests, generators and benchmarks (never Math.random in src).
// sfc32 seeded through splitmix32: fast, 128-bit state, good enough for test data.

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Prng: seed must be a safe integer, got ${seed}`);
    // Fold both halves of the seed so seeds above 2^32 differ.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
    this.a = splitmix32(lo);
    this.b = splitmix32(this.a ^ hi);
    this.c = splitmix32(this.b + 1);
    this.d = splitmix32(this.c + 2);
    for (let i = 0; i < 12; i++) this.next(); // diffuse the seed
  }

  /** Uniform u32. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [lo, hi] (inclusive), both safe integers. */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) {
      throw new RangeError(`Prng.int: bad range [${lo}, ${hi}]`);
    }
    const span = hi - lo + 1;
    if (span <= 0x1_0000_0000) {
      const limit = 0x1_0000_0000 - (0x1_0000_0000 % span); // reject the biased tail
      for (;;) {
        const x = this.next();
        if (x < limit) return lo + (x % span);
      }
    }
    return Number(this.bigint(BigInt(lo), BigInt(hi)));
  }

  /** Uniform bigint in [lo, hi] (inclusive), by rejection sampling over whole 32-bit words. */
  bigint(lo: bigint, hi: bigint): bigint {
    if (hi < lo) throw new RangeError(`Prng.bigint: bad range [${lo}, ${hi}]`);
    const span = hi - lo + 1n;
    let bits = 0n;
    while (1n << bits < span) bits += 32n;
    const limit = (1n << bits) - ((1n << bits) % span); // reject the biased tail
    for (;;) {
      let x = 0n;
      for (let b = 0n; b < bits; b += 32n) x = (x << 32n) | BigInt(this.next());
      if (x < limit) return lo + (x % span);
    }
  }

  /** Uniform element of a non-empty array. */
  pick<T>(a: readonly T[]): T {
    if (a.length === 0) throw new RangeError("Prng.pick: empty array");
    return a[this.int(0, a.length - 1)]!;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p * 0x1_0000_0000;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000;
  }
}
