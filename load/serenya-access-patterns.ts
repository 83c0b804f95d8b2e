// The seed plan's access patterns (Serenya), each as SQL on the source and the
// DynamoDB Query the app makes. Keys follow DESIGN.md "Key templates".
// Samples are ordered by primary key so runs compare like with like.
import type { AccessPattern } from './access-patterns.ts';

const EMAIL_HASH = `COALESCE(NULLIF(email_hash, ''), CASE WHEN email <> '' THEN encode(sha256(convert_to(email, 'UTF8')), 'hex') END)`;
const notRejected = (n: number) => `NOT (id::text = ANY($${n}::text[]))`;
/** Rows whose item TTL would not have expired at $n: ttl = floor(epoch), and ±infinity or NULL give no ttl. */
const alive = (column: string, n: number) => `(${column} IS NULL OR NOT isfinite(${column}) OR ${column} >= to_timestamp($${n}))`;

const byKey = (pk: string, skPrefix: string) => ({
  KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :sk)',
  ExpressionAttributeNames: { '#pk': 'PK', '#sk': 'SK' },
  ExpressionAttributeValues: { ':pk': { S: pk }, ':sk': { S: skPrefix } },
});
const byIndex = (index: 'GSI1' | 'GSI2', pk: string) => ({
  IndexName: index,
  KeyConditionExpression: '#pk = :pk',
  ExpressionAttributeNames: { '#pk': `${index}PK` },
  ExpressionAttributeValues: { ':pk': { S: pk } },
});

export const serenyaAccessPatterns: AccessPattern[] = [
  {
    name: 'user by auth provider + external id (GSI2)',
    table: 'users', id: 'id', ordered: false,
    sample: `SELECT auth_provider::text AS provider, external_id FROM users WHERE external_id <> '' ORDER BY id LIMIT $1`,
    answer: `SELECT id::text AS id FROM users WHERE auth_provider::text = $1 AND external_id = $2 AND ${notRejected(3)}`,
    query: (s) => byIndex('GSI2', `USER_EXTERNAL#${s.provider}#${s.external_id}`),
  },
  {
    name: 'user by email hash (GSI1)',
    table: 'users', id: 'id', ordered: false,
    sample: `SELECT h FROM (SELECT id, ${EMAIL_HASH} AS h FROM users) u WHERE h IS NOT NULL ORDER BY id LIMIT $1`,
    answer: `SELECT id::text AS id FROM users WHERE ${EMAIL_HASH} = $1 AND ${notRejected(2)}`,
    query: (s) => byIndex('GSI1', `USER_EMAIL#${s.h}`),
  },
  {
    name: 'session by session id (GSI1)',
    table: 'user_sessions', id: 'id', ordered: false, ttl: true,
    sample: `SELECT session_id FROM user_sessions WHERE session_id <> '' ORDER BY id LIMIT $1`,
    answer: `SELECT id::text AS id FROM user_sessions WHERE session_id = $1 AND ${notRejected(2)} AND ${alive('expires_at', 3)}`,
    query: (s) => byIndex('GSI1', `SESSION#${s.session_id}`),
  },
  {
    // SK SUBSCRIPTION#{start_date}#{id}: newest first, ties by id (uuid order is its hex text order).
    name: "a user's latest subscription (ScanIndexForward=false, Limit 1)",
    table: 'subscriptions', id: 'id', ordered: true,
    sample: `SELECT DISTINCT user_id::text AS user_id FROM subscriptions WHERE user_id IS NOT NULL ORDER BY 1 LIMIT $1`,
    answer: `SELECT id::text AS id FROM subscriptions WHERE user_id = $1::uuid AND ${notRejected(2)} ORDER BY start_date DESC, id DESC LIMIT 1`,
    query: (s) => ({ ...byKey(`USER#${s.user_id}`, 'SUBSCRIPTION#'), ScanIndexForward: false, Limit: 1 }),
  },
  {
    // GSI1SK JOB#{created_at}#{job_id}: oldest first; a job without created_at is not in the index.
    name: 'jobs by status (GSI1)',
    table: 'processing_jobs', id: 'id', ordered: true, ttl: true,
    sample: `SELECT DISTINCT status::text AS status FROM processing_jobs WHERE status IS NOT NULL ORDER BY 1 LIMIT $1`,
    answer: `SELECT id::text AS id FROM processing_jobs WHERE status::text = $1 AND created_at IS NOT NULL AND ${notRejected(2)} AND ${alive('ttl_expires_at', 3)} ORDER BY created_at, job_id COLLATE "C"`,
    query: (s) => byIndex('GSI1', `JOB_STATUS#${s.status}`),
  },
  {
    name: "a user's devices",
    table: 'user_devices', id: 'id', ordered: false,
    sample: `SELECT id::text AS user_id FROM users ORDER BY id LIMIT $1`,
    answer: `SELECT id::text AS id FROM user_devices WHERE user_id = $1::uuid AND ${notRejected(2)}`,
    query: (s) => byKey(`USER#${s.user_id}`, 'DEVICE#'),
  },
  {
    name: "a user's consents",
    table: 'consent_records', id: 'id', ordered: false,
    sample: `SELECT id::text AS user_id FROM users ORDER BY id LIMIT $1`,
    answer: `SELECT id::text AS id FROM consent_records WHERE user_id = $1::uuid AND ${notRejected(2)}`,
    query: (s) => byKey(`USER#${s.user_id}`, 'CONSENT#'),
  },
];
