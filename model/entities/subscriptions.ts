import { defineMapper } from '../entity.ts';

// The seed reads "the latest subscription" with ScanIndexForward=false, Limit 1:
// random UUIDs do not sort by time, so the start date leads the sort key.
export default defineMapper({
  table: 'subscriptions',
  entityType: 'subscription',
  key: { pk: 'USER#{user_id}', sk: 'SUBSCRIPTION#{start_date}#{id}' },
  indexes: {
    GSI1: { pk: 'SUBSCRIPTION_STATUS#{subscription_status}', sk: 'USER#{user_id}' },
  },
  accessPatterns: [{ name: "a user's latest subscription (ScanIndexForward=false, Limit 1)", newestFirst: true, limit: 1 }],
});
