// `--format parquet|both`: the part's COPY text, as it streams to the CSV
// file (or nowhere), is parsed and written as Parquet to a second stream.
// One COPY feeds both files, so they hold the same rows of the same
// snapshot in the same order. The two Parquet settings come from the
// environment (PARQUET_COMPRESSION, PARQUET_ROW_GROUP_MB), keeping the CLI to
// one --format flag; they change a file's bytes, never its values.
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { UserError } from '../lib/errors.ts';
import type { ColumnSchema } from '../lib/manifest.ts';
import type { ParquetCompression } from '../lib/parquet-format.ts';
import { UnrepresentableValue, parquetColumn } from '../lib/parquet-types.ts';
// COPY's CSV has one parser in this toolkit, shared by extract (Parquet) and transform.
import { CsvRecords, type CsvRecord } from '../lib/csv-records.ts';
import { ParquetWriter, type ParquetWriterOptions } from './parquet-writer.ts';

/** Snappy (what Spark and Athena default to); 8 MiB of COPY text per row group bounds what extract and transform hold per part. */
export function parquetSettings(env: NodeJS.ProcessEnv = process.env): ParquetWriterOptions {
  const compression = (env.PARQUET_COMPRESSION || 'snappy') as ParquetCompression;
  if (compression !== 'snappy' && compression !== 'gzip') throw new UserError(`invalid PARQUET_COMPRESSION ${JSON.stringify(env.PARQUET_COMPRESSION)}: use snappy or gzip`);
  const mb = Number(env.PARQUET_ROW_GROUP_MB || 8);
  if (!(mb > 0)) throw new UserError(`invalid PARQUET_ROW_GROUP_MB ${JSON.stringify(env.PARQUET_ROW_GROUP_MB)}: use a positive number of MiB`);
  return { compression, rowGroupBytes: Math.round(mb * 1024 * 1024) };
}

/**
 * A pass-through for the COPY text that also writes it as Parquet to
 * `parquet` (a stream for storage to consume). When that stream is full,
 * COPY waits: memory stays bounded by the row group in the writer.
 */
export class ParquetEncoder extends Transform {
  readonly parquet = new PassThrough({ highWaterMark: 1024 * 1024 });
  private readonly records = new CsvRecords();
  private readonly writer: ParquetWriter;
  /** Records parsed so far, the header included: the header is record 0, data rows count from 1 as in transform. */
  private record = 0;
  private readonly onRecord = (record: CsvRecord) => {
    if (this.record++ > 0) this.writer.addRow(record.row());
  };

  constructor(columns: ColumnSchema[], settings: ParquetWriterOptions) {
    super();
    this.writer = new ParquetWriter(columns.map(parquetColumn), settings, (bytes) => { this.parquet.write(bytes); });
    // Storage may attach to `parquet` only after an await; the COPY's pipeline reports a failure meanwhile.
    this.parquet.on('error', () => {});
    // A failed upload destroys `parquet`: stop the COPY too (as a failed gzip upload does).
    this.parquet.on('close', () => {
      if (!this.parquet.writableFinished) this.destroy(this.parquet.errored ?? new Error('the Parquet upload stopped'));
    });
  }

  get rowGroups(): number { return this.writer.rowGroupCount; }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.convert(() => this.records.push(chunk, this.onRecord), chunk, callback);
  }

  override _flush(callback: TransformCallback): void {
    this.convert(() => this.records.end(this.onRecord), undefined, (err) => {
      if (err) return callback(err);
      try {
        this.writer.finish();
      } catch (finishErr) {
        return callback(finishErr as Error);
      }
      this.parquet.end();
      callback();
    });
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    // A failed COPY must fail the Parquet upload too, never complete it.
    if (err || !this.parquet.writableEnded) this.parquet.destroy(err ?? new Error('the COPY stream ended early'));
    callback(err);
  }

  private convert(parse: () => void, chunk: Buffer | undefined, callback: TransformCallback): void {
    try {
      parse();
    } catch (err) {
      // Names the row and column (the caller adds the table), never the value: it may be personal data.
      if (err instanceof UnrepresentableValue) return callback(new UserError(`row ${this.record - 1}, ${err.message}: Parquet cannot hold it exactly; extract this table with --format csv`));
      return callback(err as Error);
    }
    if (!this.parquet.writableNeedDrain) return callback(null, chunk);
    const pass = () => {
      this.parquet.off('drain', pass);
      this.parquet.off('close', pass);
      callback(null, chunk);
    };
    this.parquet.on('drain', pass);
    this.parquet.on('close', pass);
  }
}
