// The local stack's ImportTable endpoint (scripts/stack/import-endpoint.ts
// starts it):
//
//   PORT=… DDB_LOCAL_URL=http://127.0.0.1:… AWS_ENDPOINT_URL_S3=… AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
//     node --import tsx/esm scripts/import-endpoint/server.ts
//
// It logs imports by id, table and counts only: never item values, never credentials.
import { s3Client } from '../../lib/aws.ts';
import { createEndpoint } from './endpoint.ts';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`import-endpoint: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

const port = Number(required('PORT'));
const dynamoDbLocalUrl = required('DDB_LOCAL_URL');
required('AWS_ENDPOINT_URL_S3');
const log = (message: string) => process.stdout.write(`${new Date().toISOString()} import-endpoint: ${message}\n`);

const server = createEndpoint({ dynamoDbLocalUrl, s3: s3Client(process.env), log });
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => log(`listening on 127.0.0.1:${port}, DynamoDB Local at ${dynamoDbLocalUrl}`));
server.on('error', (err) => {
  log(`cannot listen on ${port}: ${err.message}`);
  process.exit(1);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
