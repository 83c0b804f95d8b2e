import { defineMapper } from '../entity.ts';

export default defineMapper({
  table: 'user_devices',
  entityType: 'device',
  key: { pk: 'USER#{user_id}', sk: 'DEVICE#{id}' },
  indexes: {
    GSI1: { pk: 'DEVICE#{id}', sk: 'USER#{user_id}' },
  },
  accessPatterns: [{ name: "a user's devices" }],
});
