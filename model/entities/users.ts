import { defineMapper } from '../entity.ts';
import { hashOr } from '../computed.ts';

export default defineMapper({
  table: 'users',
  entityType: 'user',
  key: { pk: 'USER#{id}', sk: 'PROFILE' },
  indexes: {
    GSI1: { pk: 'USER_EMAIL#{email_hash}', sk: 'PROFILE' },
    GSI2: { pk: 'USER_EXTERNAL#{auth_provider}#{external_id}', sk: 'PROFILE' },
  },
  computed: { email_hash: hashOr('email_hash', 'email') },
  accessPatterns: [
    { name: 'user by auth provider + external id (GSI2)', index: 'GSI2' },
    { name: 'user by email hash (GSI1)', index: 'GSI1' },
  ],
});
