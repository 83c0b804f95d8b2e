import { defineMapper } from '../entity.ts';

// Zero-padded so the text order of the sort key is the display order.
export default defineMapper({
  table: 'chat_options',
  entityType: 'chat_option',
  key: { pk: 'CHAT_OPTIONS#{content_type}', sk: 'ORDER#{display_order:4}#{category}' },
});
