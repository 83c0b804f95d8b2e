import { defineMapper } from '../entity.ts';

export default defineMapper({
  table: 'user_sessions',
  entityType: 'session',
  key: { pk: 'USER#{user_id}', sk: 'SESSION#{session_id}' },
  indexes: {
    GSI1: { pk: 'SESSION#{session_id}', sk: 'USER#{user_id}' },
  },
  ttl: 'expires_at',
  accessPatterns: [{ name: 'session by session id (GSI1)', index: 'GSI1' }],
});
