import { defineMapper } from '../entity.ts';

// The table has no user_id: the owner comes from the device it was registered on.
export default defineMapper({
  table: 'biometric_registrations',
  entityType: 'biometric',
  key: { pk: 'USER#{user_id}', sk: 'BIOMETRIC#{device_id}#{biometric_type}' },
  indexes: {
    GSI1: { pk: 'BIOMETRIC#{registration_id}', sk: 'USER#{user_id}' },
  },
  joins: { user_id: { table: 'user_devices', on: 'device_id', match: 'id', take: 'user_id' } },
});
