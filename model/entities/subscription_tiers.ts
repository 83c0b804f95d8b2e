import { defineMapper } from '../entity.ts';

export default defineMapper({
  table: 'subscription_tiers',
  entityType: 'subscription_tier',
  key: { pk: 'SYSTEM#SUBSCRIPTION_TIER', sk: 'TIER#{tier_name}' },
});
