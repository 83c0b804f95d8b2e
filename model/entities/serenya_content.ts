import { defineMapper } from '../entity.ts';

export default defineMapper({
  table: 'serenya_content',
  entityType: 'content',
  key: { pk: 'USER#{user_id}', sk: 'CONTENT#{created_at}#{id}' },
  indexes: {
    GSI1: { pk: 'CONTENT#{id}', sk: 'USER#{user_id}' },
  },
});
