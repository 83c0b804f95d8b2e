import { defineMapper } from '../mapper.ts';
import { hashOr } from '../computed.ts';

export default defineMapper({
  table: 'users',
  entityType: 'user',
  key: { pk: 'USER#{id}', sk: 'PROFILE' },
  gsi1: { pk: 'USER_EMAIL#{email_hash}', sk: 'PROFILE' },
  gsi2: { pk: 'USER_EXTERNAL#{auth_provider}#{external_id}', sk: 'PROFILE' },
  computed: { email_hash: hashOr('email_hash', 'email') },
});
