// A transform run's units of work (table × extract part) with their fingerprints
// (their keys are in lib/run-layout.ts). Shared by the runner and its worker threads.
import { UserError } from '../lib/errors.ts';
import { inputPart, type ExtractManifest, type PartEntry, type TransformInput } from '../lib/manifest.ts';
import { sha256Hex } from '../lib/meter.ts';
import { unitKey } from '../lib/run-layout.ts';
import type { Storage } from '../lib/storage.ts';
import type { ItemPart } from '../lib/transform-manifest.ts';
import type { Compression } from '../lib/compression.ts';
import { LINE_ORDER } from './item-order.ts';
import type { LoadedMapper } from '../model/registry.ts';
import type { TableMapping, Unmapped } from '../model/table-mapping.ts';

/** The options that decide a unit's bytes (so they are part of its fingerprint). */
export interface UnitOptions {
  gzipLevel: number;
  /** Item files' compression (default gzip). */
  compression?: Compression;
  unmapped: Unmapped;
  dropExpired: boolean;
  /** The file of each part to read (`--input`); unset, the part's own file (the CSV of a `--format both` extract). */
  input?: TransformInput;
}

export interface Unit {
  mapping: TableMapping & { mapper: LoadedMapper };
  part: PartEntry;
  index: number;
  fingerprint: string;
}

/** What a finished unit leaves under transform/units/: its manifest entry and where its side files are. */
export interface UnitRecord {
  fingerprint: string;
  table: string;
  part: ItemPart;
  warnings: Record<string, number>;
  max_item_bytes: number;
  rejects_key: string;
  keys_key: string;
}

export function unitsOf(mapping: TableMapping, extract: ExtractManifest, options: UnitOptions, mappings: TableMapping[]): Unit[] {
  if (!mapping.mapper) return [];
  const joined = Object.values(mapping.mapper.mapper.joins ?? {}).map((join) => {
    const other = mappings.find((p) => p.table.name === join.table);
    if (!other) throw new UserError(`mapper ${mapping.table.name} joins table ${join.table}, which the extract does not hold`);
    return other.table.parts.map((p) => inputPart(p, options.input).sha256).join(',');
  });
  return mapping.table.parts.map((entry) => inputPart(entry, options.input)).map((part, index) => ({
    mapping: mapping as TableMapping & { mapper: LoadedMapper },
    part,
    index,
    fingerprint: sha256Hex(JSON.stringify({
      input: part.sha256,
      columns: mapping.table.columns,
      mapper: mapping.mapper!.hash,
      joined,
      gzip_level: options.gzipLevel,
      // Only when not gzip, so gzip units keep their fingerprints (and golden files their bytes).
      ...(options.compression && options.compression !== 'gzip' ? { compression: options.compression } : {}),
      line_order: LINE_ORDER,
      drop_expired: options.dropExpired ? extract.as_of : false,
    })),
  }));
}

export async function readRecord(run: Storage, table: string, index: number): Promise<UnitRecord | undefined> {
  const text = await run.getText(unitKey(table, index));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as UnitRecord;
  } catch {
    return undefined;
  }
}

