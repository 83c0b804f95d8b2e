import { defineMapper } from '../entity.ts';

// Events carry the job's UUID; clients know jobs by processing_jobs.job_id.
export default defineMapper({
  table: 'processing_job_events',
  entityType: 'job_event',
  key: { pk: 'JOB#{client_job_id}', sk: 'EVENT#{created_at}#{id}' },
  indexes: {
    GSI1: { pk: 'USER_HASH#{user_id_hash}', sk: 'EVENT#{created_at}#{id}' },
  },
  joins: { client_job_id: { table: 'processing_jobs', on: 'job_id', match: 'id', take: 'job_id' } },
});
