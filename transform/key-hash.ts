// The 16 bytes that stand for an item's (PK, SK) in a unit's keys file:
// MurmurHash3 x86 128 (seed 0) of the UTF-8 bytes of PK, a NUL, then SK.
// It is not a cryptographic hash: it only has to keep distinct keys of one run
// apart, and 128 bits leave 1e9 random keys a collision chance near 1e-21. Keys
// a user controls can be made to collide, though (two 32-byte SKs of printable
// ASCII: the seed is fixed and a block's difference cancels in the next), so
// the duplicate report compares the keys of equal hashes (duplicate-report.ts). sha256 in its place
// cost ~1.8 µs a key in the native call, 5% of processing_jobs' transform CPU;
// this costs a tenth of that. UTF-8 is the bytes DynamoDB compares, so strings
// that encode alike (a lone surrogate becomes U+FFFD) hash alike too.

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

let scratch = Buffer.allocUnsafe(4096);

/** Writes the hash of (pk, sk) as 16 bytes (four uint32s, big-endian) at `out[at]`. */
export function writeKeyHash(pk: string, sk: string, out: Buffer, at: number): void {
  // UTF-8 is at most 3 bytes per UTF-16 code unit.
  const most = 3 * (pk.length + sk.length) + 1;
  if (scratch.length < most) scratch = Buffer.allocUnsafe(Math.max(most, 2 * scratch.length));
  const b = scratch;
  let n = b.write(pk, 0);
  b[n++] = 0;
  n += b.write(sk, n);
  murmur3x86x128(b, n, out, at);
}

/** MurmurHash3_x86_128 of b[0, n) with seed 0, as h1..h4 big-endian at `out[at]` (the reference's hex order). */
export function murmur3x86x128(b: Uint8Array, n: number, out: Buffer, at: number): void {
  let h1 = 0, h2 = 0, h3 = 0, h4 = 0;
  const blocks = n - (n & 15);
  for (let i = 0; i < blocks; i += 16) {
    let k1 = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    let k2 = b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24);
    let k3 = b[i + 8]! | (b[i + 9]! << 8) | (b[i + 10]! << 16) | (b[i + 11]! << 24);
    let k4 = b[i + 12]! | (b[i + 13]! << 8) | (b[i + 14]! << 16) | (b[i + 15]! << 24);

    k1 = Math.imul(k1, C1); k1 = (k1 << 15) | (k1 >>> 17); k1 = Math.imul(k1, C2); h1 ^= k1;
    h1 = (h1 << 19) | (h1 >>> 13); h1 = (h1 + h2) | 0; h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(k2, C2); k2 = (k2 << 16) | (k2 >>> 16); k2 = Math.imul(k2, C3); h2 ^= k2;
    h2 = (h2 << 17) | (h2 >>> 15); h2 = (h2 + h3) | 0; h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(k3, C3); k3 = (k3 << 17) | (k3 >>> 15); k3 = Math.imul(k3, C4); h3 ^= k3;
    h3 = (h3 << 15) | (h3 >>> 17); h3 = (h3 + h4) | 0; h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(k4, C4); k4 = (k4 << 18) | (k4 >>> 14); k4 = Math.imul(k4, C1); h4 ^= k4;
    h4 = (h4 << 13) | (h4 >>> 19); h4 = (h4 + h1) | 0; h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
  }

  // The tail: up to 15 bytes, little-endian into k1..k4, each mixed in once it holds a byte.
  const r = n - blocks;
  if (r > 12) {
    let k4 = tailWord(b, blocks + 12, r - 12);
    k4 = Math.imul(k4, C4); k4 = (k4 << 18) | (k4 >>> 14); k4 = Math.imul(k4, C1); h4 ^= k4;
  }
  if (r > 8) {
    let k3 = tailWord(b, blocks + 8, r - 8);
    k3 = Math.imul(k3, C3); k3 = (k3 << 17) | (k3 >>> 15); k3 = Math.imul(k3, C4); h3 ^= k3;
  }
  if (r > 4) {
    let k2 = tailWord(b, blocks + 4, r - 4);
    k2 = Math.imul(k2, C2); k2 = (k2 << 16) | (k2 >>> 16); k2 = Math.imul(k2, C3); h2 ^= k2;
  }
  if (r > 0) {
    let k1 = tailWord(b, blocks, r);
    k1 = Math.imul(k1, C1); k1 = (k1 << 15) | (k1 >>> 17); k1 = Math.imul(k1, C2); h1 ^= k1;
  }

  h1 ^= n; h2 ^= n; h3 ^= n; h4 ^= n;
  h1 = (h1 + h2) | 0; h1 = (h1 + h3) | 0; h1 = (h1 + h4) | 0;
  h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;
  h1 = fmix32(h1); h2 = fmix32(h2); h3 = fmix32(h3); h4 = fmix32(h4);
  h1 = (h1 + h2) | 0; h1 = (h1 + h3) | 0; h1 = (h1 + h4) | 0;
  h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;

  out.writeUInt32BE(h1 >>> 0, at);
  out.writeUInt32BE(h2 >>> 0, at + 4);
  out.writeUInt32BE(h3 >>> 0, at + 8);
  out.writeUInt32BE(h4 >>> 0, at + 12);
}

/** Up to 4 bytes from b[at], little-endian (fewer when `count` is under 4). */
function tailWord(b: Uint8Array, at: number, count: number): number {
  let k = 0;
  for (let i = Math.min(count, 4) - 1; i >= 0; i--) k = (k << 8) | b[at + i]!;
  return k;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
