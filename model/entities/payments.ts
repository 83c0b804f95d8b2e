import { defineMapper } from '../entity.ts';
import { hashOr } from '../computed.ts';

export default defineMapper({
  table: 'payments',
  entityType: 'payment',
  key: { pk: 'USER#{user_id}', sk: 'PAYMENT#{created_at}#{id}' },
  indexes: {
    GSI1: { pk: 'SUBSCRIPTION#{subscription_id}', sk: 'PAYMENT#{created_at}#{id}' },
    GSI2: { pk: 'PAYMENT_TXN#{provider_transaction_id_hash}', sk: 'PAYMENT' },
  },
  computed: { provider_transaction_id_hash: hashOr('provider_transaction_id_hash', 'provider_transaction_id') },
});
