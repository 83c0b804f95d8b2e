import test from 'ava';
import { bodyHashBytes } from './items.ts';

test('an item body hashes apart from one where a lone surrogate became U+FFFD (DynamoDB keeps both as sent)', (t) => {
  t.notDeepEqual(bodyHashBytes({ PK: { S: 'A' }, v: { S: '\uD800' } }), bodyHashBytes({ PK: { S: 'A' }, v: { S: '\uFFFD' } }));
  t.notDeepEqual(bodyHashBytes({ PK: { S: 'A' }, v: { M: { k: { S: 'x\uDC00' } } } }), bodyHashBytes({ PK: { S: 'A' }, v: { M: { k: { S: 'x\uFFFD' } } } }));
  t.deepEqual(bodyHashBytes({ PK: { S: 'A' }, v: { S: '\uD800' } }), bodyHashBytes({ PK: { S: 'A' }, v: { S: '\uD800' } }));
  t.deepEqual(bodyHashBytes({ PK: { S: 'A' }, v: { S: 'é\u{1F600}' } }), bodyHashBytes({ v: { S: 'é\u{1F600}' }, PK: { S: 'A' } }));
});
