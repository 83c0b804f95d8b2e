import { defineMapper } from '../entity.ts';

export default defineMapper({
  table: 'chat_messages',
  entityType: 'chat_message',
  key: { pk: 'USER#{user_id}', sk: 'CHAT#{content_id}#{created_at}#{id}' },
});
