// The keys file's hash against MurmurHash3_x86_128 as its reference computes it
// (values from murmurhash3js-revisited 3.0.0, which follows aappleby's C++, on
// the UTF-8 bytes of PK, NUL, SK): every tail length 0–15, a full block and
// more, multi-byte characters, and a lone surrogate hashing as U+FFFD does.
import test from 'ava';
import { murmur3x86x128, writeKeyHash } from './key-hash.ts';

const VECTORS: [string, string, string][] = [
  ["", "", '88c4adec54d201b954d201b954d201b9'],
  ["a", "", '033bb196ccef4fe1ccef4fe1ccef4fe1'],
  ["USER#1", "PROFILE", '353cd4b9f6b64383f0a779de9cb0ad85'],
  ["JOB#0f8e", "EVENT#2026-01-01T00:00:00Z#17", '29a4c85fa1f510f75a42efa7bd3cd857'],
  ["é€😀", "ü", '6874e8d6db59fa2a18dfaeeabc788b1b'],
  ["\ud800", "x", 'a19e7f8ed716b9ef391522ce391522ce'],
  ["�", "x", 'a19e7f8ed716b9ef391522ce391522ce'],
  ["ab", "", '607673ae7b35502d7b35502d7b35502d'],
  ["abc", "", 'a0911a14b469ab8cb469ab8cb469ab8c'],
  ["abcd", "", '51a1ea2e77cd689b77cd689b77cd689b'],
  ["abcde", "", '5748db1c62f61d8b719e9a75719e9a75'],
  ["abcdef", "", '39f72093b4c74d6744daf38944daf389'],
  ["abcdefg", "", 'dacf787749799180043ac427043ac427'],
  ["abcdefgh", "", '729614f57b17de291afd233f1afd233f'],
  ["abcdefghi", "", '69c9fdc69dae3a6eb75b5529e1fad2e9'],
  ["abcdefghij", "", '5b3365cd1bfcec631f47b21510f31191'],
  ["abcdefghijk", "", '6bd8b70f39cb8fb0984e7457a3045499'],
  ["abcdefghijkl", "", '5f4281688776a875983986a6d2e356c2'],
  ["abcdefghijklm", "", 'af6ea09523fdada97542b2cacccaa7a4'],
  ["abcdefghijklmn", "", '16bb0e9e0faaeefab7e24418d566b127'],
  ["abcdefghijklmno", "", '298515102583b16eb5a8a6677b41bccf'],
  ["abcdefghijklmnop", "", '503f80886e29b1a9fd13a78f9d922808'],
  ["abcdefghijklmnopq", "", '45ef92a90e9a9720a33d4248afa01e26'],
];

test('the hash of each (PK, SK) is the reference MurmurHash3_x86_128 of its UTF-8 bytes', (t) => {
  const out = Buffer.alloc(20, 0xee);
  for (const [pk, sk, hex] of VECTORS) {
    writeKeyHash(pk, sk, out, 2);
    t.is(out.subarray(2, 18).toString('hex'), hex, JSON.stringify([pk, sk]));
  }
  t.is(out.readUInt16BE(0), 0xeeee, 'nothing written before');
  t.is(out.readUInt16BE(18), 0xeeee, 'nor after');
});

test('no bytes at all hash to zero, as the algorithm defines; keys longer than the scratch buffer hash alike each time', (t) => {
  const out = Buffer.alloc(16, 1);
  murmur3x86x128(new Uint8Array(0), 0, out, 0);
  t.is(out.toString('hex'), '0'.repeat(32));
  // 3 × 3000 UTF-8 bytes (past the 4 KB scratch buffer), twice: the same hash; another SK, another hash.
  const long = '€'.repeat(3000);
  const [a, b, c] = [Buffer.alloc(16), Buffer.alloc(16), Buffer.alloc(16)];
  writeKeyHash(long, 'x', a, 0);
  writeKeyHash('short', 'y', c, 0);
  writeKeyHash(long, 'x', b, 0);
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
});
