// The transform manifest: what `<run>/items/` holds and whether it is ready for
// load. Declared once here; the transform writes it, load and plan read it.
import type { Compression } from './compression.ts';
import type { Storage } from './storage.ts';
import { readManifest } from './manifest.ts';
import { TRANSFORM_MANIFEST_KEY } from './run-layout.ts';

export const TRANSFORM_FORMAT = 'pg2ddb.transform/1';

export interface ItemPart {
  /** The extract part it was made from. */
  input: string;
  input_sha256: string;
  /** `items/<table>/part-NNNNN.json.gz` */
  key: string;
  rows_in: number;
  items: number;
  rejected: number;
  dropped: number;
  /** Uncompressed DynamoDB JSON bytes (what ImportTable bills). */
  raw_bytes: number;
  bytes: number;
  sha256: string;
  /** Sum of item sizes by DynamoDB's rules. */
  ddb_bytes: number;
}

export interface TransformTable {
  name: string;
  mapping: 'mapper' | 'generic' | 'skip';
  entity_type?: string;
  mapper_hash?: string;
  rows_in: number;
  items_out: number;
  rejected: number;
  dropped: number;
  /** Lossless fallbacks (a value kept as S), per column. */
  warnings: Record<string, number>;
  raw_bytes: number;
  bytes: number;
  ddb_bytes: number;
  max_item_bytes: number;
  /** Tables the mapper joins, each with the digest of its extract parts read (lib/freshness.ts). */
  joined?: Record<string, string>;
  parts: ItemPart[];
}

export interface TransformManifest {
  format: typeof TRANSFORM_FORMAT;
  run_id: string;
  as_of: string;
  /** sha256 of the extract manifest this run was made from. */
  extract_manifest_sha256: string;
  /** `compression` is absent for gzip (item files `.json.gz`); zstd → `.json.zst`, none → `.json`. */
  options: { gzip_level: number; drop_expired: boolean; unmapped: 'fail' | 'skip' | 'generic'; compression?: Compression };
  tables: TransformTable[];
  totals: { rows_in: number; items_out: number; rejected: number; dropped: number; raw_bytes: number; bytes: number; ddb_bytes: number };
  /** Items sharing (PK, SK) with an earlier item: ImportTable would silently keep only one. */
  duplicates: number;
  /** Why the run is not ready for load (empty when it is). */
  problems: string[];
  ready_for_load: boolean;
}

export function readTransformManifest(run: Storage): Promise<TransformManifest | undefined> {
  return readManifest<TransformManifest>(run, TRANSFORM_MANIFEST_KEY, TRANSFORM_FORMAT);
}
