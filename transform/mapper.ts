// What a mapper is: a short declarative object per source table (ElectroDB-style),
// readable without knowing the runner. Anything computed is a named function
// beside the mapper, not inline cleverness.

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
  gsi1?: KeyTemplates;
  gsi2?: KeyTemplates;
  /** Timestamp or date column whose instant becomes `ttl` (epoch seconds, floor). */
  ttl?: string;
  /** Columns that feed the item's top-level `created_at` / `updated_at` (default: the columns of those names, when present). */
  createdAt?: string;
  updatedAt?: string;
  /** Values templates can use besides columns: name → function of the row. */
  computed?: Record<string, (row: RowValues) => string | null>;
  /** Values looked up in another table of the same run: name → join. */
  joins?: Record<string, Join>;
}

export function defineMapper(mapper: Mapper): Mapper {
  return mapper;
}
