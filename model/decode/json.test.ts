import test from 'ava';
import type { AttributeValue } from '../attribute.ts';
import { jsonDecoder } from './json.ts';

function decode(text: string, depth = 2): { value: AttributeValue; warnings: string[] } {
  const warnings: string[] = [];
  const value = jsonDecoder(depth)(text, (reason) => warnings.push(reason));
  return { value, warnings };
}

function map(entries: Record<string, AttributeValue>): { M: Record<string, AttributeValue> } {
  return { M: Object.assign(Object.create(null) as Record<string, AttributeValue>, entries) };
}

/** `count` containers nested in each other, alternating objects and arrays, around a string. */
function nested(count: number): string {
  let text = '"bottom"';
  for (let level = count; level >= 1; level--) text = level % 2 === 1 ? `{"k${level}":${text}}` : `[${level},${text}]`;
  return text;
}

function fallback(text: string, reason: string): { value: AttributeValue; warnings: string[] } {
  return { value: { S: text }, warnings: [`json ${reason}: whole value kept as S`] };
}

test('json: objects, arrays and scalars become M, L, S, N, BOOL, NULL', (t) => {
  const text = '{"s":"x","n":12,"t":true,"f":false,"z":null,"l":[1,"a",[]],"m":{}}';
  t.deepEqual(decode(text), {
    value: map({
      s: { S: 'x' },
      n: { N: '12' },
      t: { BOOL: true },
      f: { BOOL: false },
      z: { NULL: true },
      l: { L: [{ N: '1' }, { S: 'a' }, { L: [] }] },
      m: map({}),
    }),
    warnings: [],
  });
});

test('json: a top-level scalar is that scalar', (t) => {
  t.deepEqual(decode('"text"').value, { S: 'text' });
  t.deepEqual(decode('42').value, { N: '42' });
  t.deepEqual(decode('true').value, { BOOL: true });
  t.deepEqual(decode('null').value, { NULL: true });
  t.deepEqual(decode('[]').value, { L: [] });
  t.deepEqual(decode('{}').value, map({}));
});

test('json: maps have no prototype', (t) => {
  const value = decode('{"a":1}').value as { M: Record<string, AttributeValue> };
  t.is(Object.getPrototypeOf(value.M), null);
});

test('json: numbers keep their literal digits (2^53+1, 12.50, exponents)', (t) => {
  t.deepEqual(decode('9007199254740993').value, { N: '9007199254740993' });
  t.deepEqual(decode('[12.50,-0.0,1E+5,1e-5,-17.4E37]').value, {
    L: [{ N: '12.50' }, { N: '-0.0' }, { N: '1E+5' }, { N: '1e-5' }, { N: '-17.4E37' }],
  });
  const thirtyDigits = '123456789012345678901234567890';
  t.deepEqual(decode(`{"big":${thirtyDigits}}`).value, map({ big: { N: thirtyDigits } }));
});

test('json: -0 stays N (a decimal zero: jsonb itself stores it as 0)', (t) => {
  t.deepEqual(decode('-0'), { value: { N: '-0' }, warnings: [] });
});

test('json: 1e400 makes the whole value S with a warning', (t) => {
  const text = '{"ok":1,"huge":1e400}';
  t.deepEqual(decode(text), fallback(text, 'has a number with magnitude above 9.9999999999999999999999999999999999999E+125'));
});

test('json: a zero DynamoDB cannot read (0e2147483648, which the json type keeps) makes the whole value S', (t) => {
  const text = '{"ok":0e2147483647,"z":0e2147483648}';
  t.deepEqual(decode(text), fallback(text, 'has a number with a zero whose exponent DynamoDB cannot read'));
});

test('json: jsonb prints 1e400 as 401 digits; still the whole value S', (t) => {
  const text = `[1${'0'.repeat(400)}]`;
  t.deepEqual(decode(text).value, { S: text });
});

test('json: a number below 1E-130 makes the whole value S', (t) => {
  const text = '[1e-131]';
  t.deepEqual(decode(text), fallback(text, 'has a number with magnitude below 1E-130'));
});

test('json: a number of 39 significant digits makes the whole value S', (t) => {
  const text = '{"n":123456789012345678901234567890123456789}';
  t.deepEqual(decode(text), fallback(text, 'has a number with more than 38 significant digits'));
});

test('json: 30 nested containers fit a column in data (innermost at level 31)', (t) => {
  const result = decode(nested(30), 2);
  t.deepEqual(result.warnings, []);
  let value = result.value;
  for (let level = 1; level <= 30; level++) {
    value = 'M' in value ? value.M[`k${level}`]! : (value as { L: AttributeValue[] }).L[1]!;
  }
  t.deepEqual(value, { S: 'bottom' });
});

test("json: 31 nested containers at depth 2 pass DynamoDB's 32 levels: whole S", (t) => {
  const text = nested(31);
  t.deepEqual(decode(text, 2), fallback(text, "nests deeper than DynamoDB's 32 levels"));
});

test('json: 32 and 33 nested containers at depth 2: whole S', (t) => {
  for (const count of [32, 33]) {
    const text = nested(count);
    t.deepEqual(decode(text, 2), fallback(text, "nests deeper than DynamoDB's 32 levels"), String(count));
  }
});

test('json: an empty container counts as a level too', (t) => {
  const text = `${'['.repeat(31)}${']'.repeat(31)}`;
  t.is(decode(text, 2).warnings.length, 1);
  t.is(decode(text, 1).warnings.length, 0);
});

test('json: the limit follows depth (31 containers fit a top-level attribute)', (t) => {
  t.deepEqual(decode(nested(31), 1).warnings, []);
  t.is(decode(nested(32), 1).warnings.length, 1);
  t.is(decode(nested(29), 3).warnings.length, 0);
  t.is(decode(nested(30), 3).warnings.length, 1);
});

test('json: scalars do not count as a level', (t) => {
  t.deepEqual(decode('"x"', 31).warnings, []);
  t.deepEqual(decode('[1]', 31).warnings, []);
  t.is(decode('[[1]]', 31).warnings.length, 1);
});

test('json: thousands of levels (PostgreSQL allows them) neither overflow the stack nor throw', (t) => {
  const text = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  t.deepEqual(decode(text), fallback(text, "nests deeper than DynamoDB's 32 levels"));
});

test('json: an empty-string key makes the whole value S', (t) => {
  const text = '{"a":{"":1}}';
  t.deepEqual(decode(text), fallback(text, 'has an empty object key'));
});

test('json: duplicate keys (the json type keeps them) make the whole value S, never drop one', (t) => {
  const text = '{"a":1,"b":2,"a":3}';
  t.deepEqual(decode(text), fallback(text, 'has an object with duplicate keys'));
  const nestedDuplicates = '[{"x":{"k":1,"k":1}}]';
  t.deepEqual(decode(nestedDuplicates), fallback(nestedDuplicates, 'has an object with duplicate keys'));
});

test('json: the same key in different objects is not a duplicate', (t) => {
  t.deepEqual(decode('[{"a":1},{"a":2}]').warnings, []);
});

test('json: a key over 50,000 bytes of UTF-8 makes the whole value S (DynamoDB Local refuses a longer map key)', (t) => {
  for (const key of ['é'.repeat(40_000), 'a'.repeat(65_535), 'a'.repeat(50_001), 'あ'.repeat(16_667), `${'a'.repeat(49_999)}é`]) {
    const text = `{"${key}":1}`;
    t.deepEqual(decode(text), fallback(text, 'has an object key over 50,000 bytes'), `${Buffer.byteLength(key)} bytes`);
  }
  // Stored by DynamoDB Local 3.3.0 at 50,000 bytes:
  for (const key of ['a'.repeat(50_000), 'é'.repeat(25_000), '😀'.repeat(12_500), 'あ'.repeat(16_666)]) t.deepEqual(decode(`{"${key}":1}`).warnings, []);
});

test('json: __proto__ is an ordinary key that round-trips as data', (t) => {
  const { value, warnings } = decode('{"__proto__":{"polluted":true},"constructor":1}');
  t.deepEqual(warnings, []);
  const m = (value as { M: Record<string, AttributeValue> }).M;
  t.deepEqual(Object.keys(m), ['__proto__', 'constructor']);
  t.deepEqual(m['__proto__'], map({ polluted: { BOOL: true } }));
  t.is(JSON.stringify(value), '{"M":{"__proto__":{"M":{"polluted":{"BOOL":true}}},"constructor":{"N":"1"}}}');
  t.is(({} as Record<string, unknown>)['polluted'], undefined);
});

test('json: a duplicate __proto__ key is detected too', (t) => {
  const text = '{"__proto__":1,"__proto__":2}';
  t.deepEqual(decode(text), fallback(text, 'has an object with duplicate keys'));
});

test('json: escapes decode to their characters', (t) => {
  const text = String.raw`{"q":"say \"hi\"","b":"back\\slash","s":"\/","c":"\b\f\n\r\t","u":"Jos\u00e9 Mar\u00EDa","e":"\ud83d\ude00","nul":"a\u0000b"}`;
  t.deepEqual(decode(text), {
    value: map({
      q: { S: 'say "hi"' },
      b: { S: 'back\\slash' },
      s: { S: '/' },
      c: { S: '\b\f\n\r\t' },
      u: { S: 'José María' },
      e: { S: '😀' },
      nul: { S: 'a\u0000b' },
    }),
    warnings: [],
  });
});

test('json: escapes decode in keys too', (t) => {
  t.deepEqual(decode(String.raw`{"caf\u00e9":1}`).value, map({ café: { N: '1' } }));
});

test('json: raw non-ASCII, emoji and line separators pass through', (t) => {
  const text = '{"raw":"😀👩‍⚕️ e\u0301 \u2028\u2029 血液"}';
  t.deepEqual(decode(text).value, map({ raw: { S: '😀👩‍⚕️ e\u0301 \u2028\u2029 血液' } }));
});

test('json: half a surrogate pair in an escape (json accepts it) makes the whole value S', (t) => {
  for (const text of [String.raw`"\ud800"`, String.raw`"\udc00\ud800"`, String.raw`{"a":"x\ud83dy"}`, String.raw`"\ud83d\u0041"`]) {
    t.deepEqual(decode(text), fallback(text, 'has half a surrogate pair in a \\u escape'), text);
  }
});

test('json: whitespace variants (json keeps the spacing as written) decode alike', (t) => {
  const expected = map({ a: { L: [{ N: '1' }, map({ b: { NULL: true } })] } });
  for (const text of [
    '{"a":[1,{"b":null}]}',
    '{"a": [1, {"b": null}]}',
    '  {"a" :[ 1 , {"b" : null} ] }  ',
    '{\n\t"a":\r\n[\n1,\t{"b"\n:\nnull}\n]\n}\n',
  ]) {
    t.deepEqual(decode(text), { value: expected, warnings: [] }, JSON.stringify(text));
  }
});

test('json: whole-value S keeps the original spacing', (t) => {
  const text = '{"a" : 1,  "a":2}';
  t.deepEqual(decode(text).value, { S: text });
});

test('json: text that is not JSON throws with the position', (t) => {
  for (const text of [
    '', ' ', '{', '[1,]', '[1 2]', '{"a"}', '{"a":}', '{a:1}', "{'a':1}", '01', '1.', '.5', '-', '1e', '+1',
    'tru', 'nul', 'True', 'NaN', 'Infinity', '"abc', '"a\tb"', '"\\x"', '"\\u12"', '"\\u12zz"', '[1]x', '{}{}', '\f1',
  ]) {
    t.throws(() => decode(text), { message: /^json: .* at character \d+ of \d+$/ }, JSON.stringify(text));
  }
});

test('json: invalid text throws even after a fallback was found', (t) => {
  t.throws(() => decode('{"":1,'), { message: /^json: / });
  t.throws(() => decode('[1e400'), { message: /^json: / });
});
