// The records of one S3 object, in order, as ImportTable reads them:
// decompressed, split into DynamoDB JSON lines or CSV rows, each an item or
// an error at its 0-based itemIndex. The first record that cannot form an
// item (not JSON, no Item member, a key missing or of the wrong type, an
// invalid attribute value), or an object that stops decompressing (truncated,
// corrupt), ends the object: that is one error, and what follows it is not
// processed. The user guide says an invalid item is skipped and the import
// goes on; measured against AWS, every such defect abandons the rest of its
// object (scylladb/scylladb test/alternator/test_import.py, point 12), and
// this follows the measurement. Empty and blank lines are ignored (point 6),
// and a 0-byte object is 0 items (point 7); both were measured uncompressed.
// A 0-byte GZIP or ZSTD object is no compressed stream at all and was not
// measured: the stricter answer is kept, one error ("unexpected end of file").
// Errors DynamoDB raises when the item is written (a GSI key of the wrong
// type, an item over 400 KB, a bad number) are per item: see item-writer.ts.
import type { Readable } from 'node:stream';
import { parse as parseCsv } from 'fast-csv';
import { setOwn } from '../../lib/own-property.ts';
import { decompress } from './decompress.ts';
import type { AttributeDefinition, Compression, CsvOptions, InputFormat, KeySchemaElement } from './import-request.ts';
import { itemProblem, parseItemLine, type AttributeJson, type ItemJson } from './item-check.ts';

export type ObjectRecord =
  | { index: number; item: ItemJson }
  | { index: number; error: string; stop: boolean };

export interface ReadOptions {
  format: InputFormat;
  compression: Compression;
  csv?: CsvOptions;
  keySchema: KeySchemaElement[];
  definitions: AttributeDefinition[];
}

/** Counts uncompressed bytes processed (what ImportTable reports as ProcessedSizeBytes). */
export interface ByteCounter { bytes: number }

/** zlib's and zstd's messages name the fault ("unexpected end of file"), never the data. */
function unreadable(err: unknown, compression: Compression): string {
  const reason = compression === 'NONE' ? 'read error' : `${compression}: ${(err as Error).message}`;
  return `Unable to read the S3 object to its end (${reason}): the rest of this S3 object was not processed`;
}

/** Lines split on \n with their exact byte length; a last line without \n counts too. */
async function* lines(source: Readable, counter: ByteCounter): AsyncGenerator<string> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    let data: Buffer = rest.length ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (let nl = data.indexOf(0x0a, start); nl >= 0; nl = data.indexOf(0x0a, start)) {
      counter.bytes += nl - start + 1;
      yield data.toString('utf8', start, nl);
      start = nl + 1;
    }
    rest = data.subarray(start);
    data = rest;
  }
  if (rest.length > 0) {
    counter.bytes += rest.length;
    yield rest.toString('utf8');
  }
}

async function* jsonRecords(source: Readable, options: ReadOptions, counter: ByteCounter): AsyncGenerator<ObjectRecord> {
  let index = 0;
  try {
    for await (const text of lines(source, counter)) {
      if (text.trim() === '') continue;
      const parsed = parseItemLine(text);
      if ('malformed' in parsed) {
        yield { index, error: parsed.malformed, stop: true };
        return;
      }
      const problem = itemProblem(parsed.item, options.keySchema, options.definitions);
      if (problem) {
        yield { index, error: problem, stop: true };
        return;
      }
      yield { index, item: parsed.item };
      index++;
    }
  } catch (err) {
    yield { index, error: unreadable(err, options.compression), stop: true };
  }
}

/**
 * CSV: the header row names the attributes (or InputFormatOptions.Csv.HeaderList,
 * and then every row is data). Key attributes take their AttributeDefinitions
 * type; every other value is a string (S), as ImportTable imports CSV. An empty
 * non-key value is left out of the item.
 */
async function* csvRecords(source: Readable, options: ReadOptions, counter: ByteCounter): AsyncGenerator<ObjectRecord> {
  const types = new Map(options.definitions.map((d) => [d.AttributeName, d.AttributeType]));
  const keys = new Set(options.keySchema.map((k) => k.AttributeName));
  const parser = parseCsv({ delimiter: options.csv?.Delimiter ?? ',', headers: false, ignoreEmpty: true });
  source.on('data', (chunk: Buffer) => { counter.bytes += chunk.length; });
  source.on('error', (err) => parser.destroy(err));
  source.pipe(parser);
  let header = options.csv?.HeaderList;
  let index = 0;
  try {
    for await (const row of parser as AsyncIterable<string[]>) {
      if (!header) { header = row; continue; }
      if (row.length > header.length) {
        yield { index, error: 'The CSV row has more fields than the header: the rest of this S3 object was not processed', stop: true };
        return;
      }
      const item: ItemJson = {};
      header.forEach((name, i) => {
        const value = row[i] ?? '';
        if (keys.has(name)) setOwn<AttributeJson>(item, name, { [types.get(name) ?? 'S']: value });
        else if (value !== '') setOwn<AttributeJson>(item, name, { S: value });
      });
      const problem = itemProblem(item, options.keySchema, options.definitions);
      if (problem) {
        yield { index, error: problem, stop: true };
        return;
      }
      yield { index, item };
      index++;
    }
  } catch (err) {
    // fast-csv's own messages quote the data: only a decompression fault is named.
    const reason = (err as Error).name === 'Error' && /Parse Error/.test((err as Error).message) ? 'The CSV is malformed: the rest of this S3 object was not processed' : unreadable(err, options.compression);
    yield { index, error: reason, stop: true };
  }
}

export function readObjectRecords(body: Readable, options: ReadOptions, counter: ByteCounter): AsyncGenerator<ObjectRecord> {
  const source = decompress(body, options.compression);
  return options.format === 'CSV' ? csvRecords(source, options, counter) : jsonRecords(source, options, counter);
}
