import { defineMapper } from '../entity.ts';

export default defineMapper({
  table: 'processing_jobs',
  entityType: 'job',
  key: { pk: 'USER#{user_id}', sk: 'JOB#{job_id}' },
  indexes: {
    GSI1: { pk: 'JOB_STATUS#{status}', sk: 'JOB#{created_at}#{job_id}' },
    GSI2: { pk: 'JOB#{job_id}', sk: 'USER#{user_id}' },
  },
  ttl: 'ttl_expires_at',
  // Oldest first by GSI1SK; a job without created_at is not in the index.
  accessPatterns: [{ name: 'jobs by status (GSI1)', index: 'GSI1' }],
});
