import { defineMapper } from '../entity.ts';

export default defineMapper({
  table: 'consent_records',
  entityType: 'consent',
  key: { pk: 'USER#{user_id}', sk: 'CONSENT#{consent_type}' },
  accessPatterns: [{ name: "a user's consents" }],
});
