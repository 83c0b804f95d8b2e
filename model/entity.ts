// What an entity (a mapper) is: a short declarative object per source table
// (ElectroDB-style), readable without knowing the runner. Anything computed is
// a named function beside it, not inline cleverness. Its keys fill the table's
// key and any of the table's indexes (table.ts), and its access patterns are
// declared beside them: verify renders their queries from these templates.
import type { IndexName } from './table.ts';

/** A row as key templates and computed values see it: column name → text (NULL → null). */
export type RowValues = (column: string) => string | null;

export interface KeyTemplates {
  /** e.g. `USER#{user_id}`; `{name:4}` zero-pads a whole number to 4 digits. */
  pk: string;
  sk: string;
}

export interface Join {
  /** The other table of the same run. */
  table: string;
  /** This table's column holding the other table's key. */
  on: string;
  /** The other table's column it matches (unique there). */
  match: string;
  /** The other table's column whose value the join yields. */
  take: string;
}

export interface Mapper {
  /** Source table name as the extract manifest gives it. */
  table: string;
  entityType: string;
  key: KeyTemplates;
  /** The table's indexes (table.ts INDEXES) this entity's items are in: index name → its key templates. */
  indexes?: Partial<Record<IndexName, KeyTemplates>>;
  /** Timestamp or date column whose instant becomes `ttl` (epoch seconds, floor); any other type is refused. */
  ttl?: string;
  /** Columns that feed the item's top-level `created_at` / `updated_at` (default: the columns of those names, when present). */
  createdAt?: string;
  updatedAt?: string;
  /**
   * Values templates can use besides columns: name → function of the row,
   * and of nothing else (no state kept across rows): rows are built on
   * several threads, in no set order, and a rerun must give the same bytes.
   */
  computed?: Record<string, (row: RowValues) => string | null>;
  /** Values looked up in another table of the same run: name → join. */
  joins?: Record<string, Join>;
  /** The app's queries of this entity, checked by verify against the source (see AccessPattern). */
  accessPatterns?: AccessPattern[];
}

/**
 * A query the app makes: the partition key of `index` (the table's own key by
 * default) rendered from one row with this entity's templates, and the sort
 * key's text before its first value (`DEVICE#` of `DEVICE#{id}`) as a
 * begins_with prefix when there is such text. Verify samples source rows,
 * renders each row's key, queries, and checks that the row's item answers and
 * that every item answering renders from its source row to the same key.
 */
export interface AccessPattern {
  /** The check's name in verify's report. */
  name: string;
  index?: 'table' | IndexName;
  /** Newest first (ScanIndexForward=false), only the first `limit` items: the sampled row's item, or ones after it in that order. */
  newestFirst?: boolean;
  limit?: number;
}

export function defineMapper(mapper: Mapper): Mapper {
  return mapper;
}
