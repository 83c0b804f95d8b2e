// Named computed values the Serenya mappers share.
import { sha256Hex } from '../lib/meter.ts';
import type { RowValues } from './entity.ts';

/** `column` when present, else the sha256 hex of `source` as stored (seed plan: hashes may be NULL). */
export function hashOr(column: string, source: string): (row: RowValues) => string | null {
  return (row) => {
    const stored = row(column);
    if (stored) return stored;
    const value = row(source);
    // An empty source (an empty email) identifies nobody: no hash, so no index entry.
    return value ? sha256Hex(value) : null;
  };
}

/** `column`, or `fallback` when it is NULL or empty. */
export function orElse(column: string, fallback: string): (row: RowValues) => string | null {
  return (row) => row(column) || fallback;
}

/** The `YYYY-MM` of a canonical timestamp column. */
export function yearMonth(column: string): (row: RowValues) => string | null {
  return (row) => {
    const value = row(column);
    return value && /^\d{4}-\d\d/.test(value) ? value.slice(0, 7) : null;
  };
}
