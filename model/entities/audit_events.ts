import { defineMapper } from '../entity.ts';
import { orElse, yearMonth } from '../computed.ts';

export default defineMapper({
  table: 'audit_events',
  entityType: 'audit_event',
  key: { pk: 'AUDIT_USER#{audit_user}', sk: 'EVENT#{event_timestamp}#{id}' },
  indexes: {
    GSI1: { pk: 'AUDIT_TYPE#{event_type}#{event_month}', sk: '{event_timestamp}#{id}' },
  },
  ttl: 'retention_expiry_date',
  computed: {
    audit_user: orElse('user_id_hash', 'ANONYMOUS'),
    event_month: yearMonth('event_timestamp'),
  },
});
