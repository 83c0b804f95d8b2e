import test from 'ava';
import { isLoopbackEndpoint } from '../lib/aws.ts';
import { chooseLoadMode } from './load-mode.ts';

test('a loopback endpoint is this machine by its parsed host, not by how the URL starts', (t) => {
  for (const url of ['http://localhost:8000', 'http://127.0.0.1:8000', 'http://127.10.0.3', 'http://[::1]:8000', 'http://LOCALHOST:1']) t.true(isLoopbackEndpoint(url), url);
  for (const url of [undefined, '', 'https://dynamodb.eu-west-1.amazonaws.com', 'http://localhost.example.com', 'http://127.0.0.1.nip.io', 'http://10.0.0.5:8000', 'not a url']) t.false(isLoopbackEndpoint(url), String(url));
});

test('load mode: --mode, then MODE, then batch only for a loopback DynamoDB endpoint, else import', (t) => {
  t.deepEqual(chooseLoadMode('import', { MODE: 'batch' }), { mode: 'import', why: '--mode import' });
  t.deepEqual(chooseLoadMode(undefined, { MODE: 'batch', AWS_ENDPOINT_URL_DYNAMODB: 'https://vpce.example' }), { mode: 'batch', why: 'MODE=batch' });
  t.throws(() => chooseLoadMode(undefined, { MODE: 'fast' }), { message: /invalid MODE="fast": use MODE=import .* or MODE=batch/ });
  t.like(chooseLoadMode(undefined, { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000' }), { mode: 'batch' });
  t.deepEqual(chooseLoadMode(undefined, { AWS_ENDPOINT_URL_DYNAMODB: 'https://vpce-1.dynamodb.eu-west-1.vpce.amazonaws.com' }),
    { mode: 'import', why: 'AWS_ENDPOINT_URL_DYNAMODB=https://vpce-1.dynamodb.eu-west-1.vpce.amazonaws.com is not a loopback address: DynamoDB on AWS; MODE=batch for BatchWriteItem' });
  t.deepEqual(chooseLoadMode(undefined, {}), { mode: 'import', why: 'AWS_ENDPOINT_URL_DYNAMODB is not set: DynamoDB on AWS; MODE=batch for BatchWriteItem' });
});
