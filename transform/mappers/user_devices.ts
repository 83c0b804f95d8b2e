import { defineMapper } from '../mapper.ts';

export default defineMapper({
  table: 'user_devices',
  entityType: 'device',
  key: { pk: 'USER#{user_id}', sk: 'DEVICE#{id}' },
  gsi1: { pk: 'DEVICE#{id}', sk: 'USER#{user_id}' },
});
