// How a table is named in a run: its qualified name (manifests, unit ids,
// mappers, `--table`) and its storage segment (every key under the run that
// holds a table's files). One place, so extract, transform and load can never
// disagree on where a table's files are.

/**
 * `table` in the public schema, else `schema.table`. A `.` or `%` inside a
 * schema or table name is percent-encoded, so `public."audit.events"`
 * (`audit%2Eevents`) and `audit.events` never share a name; an ordinary name
 * is unchanged.
 */
export function qualifiedName(schema: string, table: string): string {
  const part = (name: string) => name.replace(/%/g, '%25').replace(/\./g, '%2E');
  return schema === 'public' ? part(table) : `${part(schema)}.${part(table)}`;
}

/** `users`, `audit.events`: a file-system- and S3-safe path segment for a qualified table name. */
export function tableSegment(name: string): string {
  const encoded = encodeURIComponent(name);
  // `.` and `..` are the only names encodeURIComponent leaves that a file system would read as directories.
  return encoded === '.' || encoded === '..' ? encoded.replace(/\./g, '%2E') : encoded;
}

/** `extract/<table>/part-00000.csv.gz`: part `part` of a table's extract. */
export function extractPartKey(table: string, part: number, extension = 'csv.gz'): string {
  return `extract/${tableSegment(table)}/part-${String(part).padStart(5, '0')}.${extension}`;
}

/** `transform/rejects/<table>.jsonl`: every reject of a table's transform, in part order. */
export function rejectsFileKey(table: string): string {
  return `transform/rejects/${tableSegment(table)}.jsonl`;
}
