import test from 'ava';
import { canonicalNumber, canonicalValue, differingAttributes, fromItemValue, toItemValue, type ItemJson } from './attribute-json.ts';

test('numbers compare by exact value, as DynamoDB stores them', (t) => {
  t.is(canonicalNumber('1.50'), canonicalNumber('1.5'));
  t.is(canonicalNumber('007'), canonicalNumber('7'));
  t.is(canonicalNumber('1E+2'), canonicalNumber('100'));
  t.is(canonicalNumber('-0.000'), canonicalNumber('0'));
  t.is(canonicalNumber('12345678901234567890123456789012345678'), '12345678901234567890123456789012345678e0');
  t.not(canonicalNumber('12345678901234567890123456789012345678'), canonicalNumber('12345678901234567890123456789012345679'));
  t.not(canonicalNumber('1.5'), canonicalNumber('-1.5'));
});

test('differingAttributes names what differs, ignoring map key order and number spelling', (t) => {
  const file: ItemJson = { PK: { S: 'A' }, SK: { S: 'B' }, data: { M: { a: { N: '1.50' }, b: { S: 'x' } } }, l: { L: [{ N: '1' }, { N: '2' }] } };
  t.deepEqual(differingAttributes(file, { PK: { S: 'A' }, SK: { S: 'B' }, data: { M: { b: { S: 'x' }, a: { N: '1.5' } } }, l: { L: [{ N: '1' }, { N: '2' }] } }), []);
  t.deepEqual(differingAttributes(file, { PK: { S: 'A' }, SK: { S: 'B' }, data: { M: { a: { N: '1.5' }, b: { S: 'y' } } }, l: { L: [{ N: '2' }, { N: '1' }] }, extra: { BOOL: true } }), ['data', 'extra', 'l']);
  t.deepEqual(differingAttributes(file, { PK: { S: 'A' }, SK: { S: 'B' }, data: { M: { a: { S: '1.5' }, b: { S: 'x' } } }, l: file.l! }), ['data'], 'a number and a string of the same text differ');
});

test('binary values travel as base64 in files and as bytes through the SDK', (t) => {
  const file: ItemJson = { b: { B: Buffer.from([0, 255, 10]).toString('base64') }, m: { M: { bs: { BS: ['AAE='] } } } };
  const sdk = toItemValue(file);
  t.deepEqual([...(sdk.b!.B as Uint8Array)], [0, 255, 10]);
  t.deepEqual(fromItemValue(sdk), file);
});

test('map keys special to JavaScript survive both ways and compare as ordinary keys', (t) => {
  const line = '{"data":{"M":{"__proto__":{"M":{"x":{"N":"1"}}},"constructor":{"S":"c"},"toString":{"S":"t"},"hasOwnProperty":{"N":"3"},"a":{"L":[{"M":{"__proto__":{"N":"2"}}}]}}}}';
  const file = JSON.parse(line) as ItemJson;
  const sdk = toItemValue(file);
  t.deepEqual(Object.keys(sdk.data!.M!), ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a']);
  t.deepEqual(sdk.data!.M!.__proto__, { M: { x: { N: '1' } } });
  t.is(Object.getPrototypeOf(sdk.data!.M!), Object.prototype, 'the prototype is untouched');
  t.deepEqual(Object.keys(sdk.data!.M!.a!.L![0]!.M!), ['__proto__']);
  t.is(JSON.stringify(fromItemValue(sdk)), line, 'SDK form back to the file form, byte for byte');
  t.deepEqual(differingAttributes(file, fromItemValue(sdk)), []);
  const lost = JSON.parse(line.replace('{"__proto__":{"N":"2"}}', '{}')) as ItemJson;
  t.deepEqual(differingAttributes(file, lost), ['data'], 'a missing __proto__ member is a difference');
  t.deepEqual(differingAttributes({ PK: { S: 'a' } }, { PK: { S: 'a' }, constructor: { S: 'x' } }), ['constructor']);
  t.deepEqual(differingAttributes({ PK: { S: 'a' }, constructor: { S: 'x' } }, { PK: { S: 'a' } }), ['constructor']);
});

test('canonical texts tell apart strings and names that hold the separators, and ignore map order', (t) => {
  const a = canonicalValue({ M: { a: { S: 'x' }, b: { S: 'y' } } });
  t.is(canonicalValue({ M: { b: { S: 'y' }, a: { S: 'x' } } }), a);
  t.not(canonicalValue({ M: { a: { S: 'x,1:b=S1:y' } } }), a);
  t.not(canonicalValue({ M: { 'a=S1:x,1:b': { S: 'y' } } }), a);
  t.not(canonicalValue({ L: [{ S: '1' }] }), canonicalValue({ L: [{ N: '1' }] }));
  t.is(canonicalValue({ N: '1.50' }), canonicalValue({ N: '15E-1' }));
});
