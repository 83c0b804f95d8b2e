import { defineMapper } from '../entity.ts';

export default defineMapper({
  table: 'audit_event_summaries',
  entityType: 'audit_summary',
  key: { pk: 'AUDIT_SUMMARY#{summary_date}', sk: '{event_type}#{event_subtype}' },
});
