import { defineMapper } from '../entity.ts';

export default defineMapper({
  table: 'schema_versions',
  entityType: 'schema_version',
  key: { pk: 'SYSTEM#SCHEMA_VERSION', sk: 'VERSION#{version}' },
  createdAt: 'applied_at',
});
