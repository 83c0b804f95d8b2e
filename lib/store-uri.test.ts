import test from 'ava';
import path from 'node:path';
import { parseStoreUri } from './store-uri.ts';

test('file:///abs and file://localhost/abs name that directory, percent-decoded; plain paths keep working', (t) => {
  t.deepEqual(parseStoreUri('file:///srv/pg2ddb/out'), { kind: 'file', dir: '/srv/pg2ddb/out' });
  t.deepEqual(parseStoreUri('file://localhost/srv/out'), { kind: 'file', dir: '/srv/out' });
  t.deepEqual(parseStoreUri('file:///srv/a%20b%3Fc%23d'), { kind: 'file', dir: '/srv/a b?c#d' });
  t.deepEqual(parseStoreUri('./out'), { kind: 'file', dir: path.resolve('out') });
  t.deepEqual(parseStoreUri('/srv/a?b#c'), { kind: 'file', dir: '/srv/a?b#c' }, 'a plain path is taken as written');
  t.deepEqual(parseStoreUri('s3://my-bucket/a/b/'), { kind: 's3', bucket: 'my-bucket', prefix: 'a/b' });
});

test('a file URI with a host, a query, a fragment or bad percent-encoding is refused in one line that says what to write', (t) => {
  const fix = 'write file:///absolute/dir (three slashes), or give the directory as a plain path';
  t.throws(() => parseStoreUri('file://host/x'), { message: `invalid STORE "file://host/x": it names host "host", and pg2ddb writes only local files; ${fix}` });
  t.throws(() => parseStoreUri('file://out'), { message: `invalid STORE "file://out": it names host "out", and pg2ddb writes only local files; ${fix}` });
  t.throws(() => parseStoreUri('file:///srv/a?b'), { message: 'invalid STORE "file:///srv/a?b": a file URI ends its path at "?" (a query); percent-encode it (%3F) or give the directory as a plain path' });
  t.throws(() => parseStoreUri('file:///srv/run#1'), { message: 'invalid STORE "file:///srv/run#1": a file URI ends its path at "#" (a fragment); percent-encode it (%23) or give the directory as a plain path' });
  t.throws(() => parseStoreUri('file:///srv/a%2Fb'), { message: /^invalid STORE "file:\/\/\/srv\/a%2Fb": .*encoded \/.*; write file:\/\/\/absolute\/dir/ });
  t.throws(() => parseStoreUri('file:relative'), { message: `invalid STORE "file:relative": a file URI is file:///absolute/dir; ${fix}` });
  t.throws(() => parseStoreUri('file://'), { message: `invalid STORE "file://": no directory; ${fix}` });
  t.throws(() => parseStoreUri('gs://bucket/x'), { message: /^unsupported storage URI gs:\/\/bucket\/x/ });
});
