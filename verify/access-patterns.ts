// Verify (d): the app's access patterns, as each entity declares them beside
// its key templates (model/entities/), answer from DynamoDB as the source says
// they should. Queries are rendered by the transform's own item builder from
// source rows, never from a hand copy of the templates, so a changed template
// is checked as it is. For a sample of source rows (in primary key order):
// (a) the query the row's key gives returns the row's item (for a newest-first
// Limit N query: it or N items after it), and (b) every item it returns comes
// from a source row (read by the primary key in the item's `data`) that
// renders to that same key, and is neither rejected nor expired. Rows rejected
// or without the index's key are not samples; an expired row is, and its item
// must not answer (queries filter on ttl, as apps do).
import { QueryCommand, type AttributeValue as SdkValue, type DynamoDBClient, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import type { TableEntry } from '../lib/manifest.ts';
import { UserError } from '../lib/errors.ts';
import { sha256Hex } from '../lib/meter.ts';
import { quoteIdent, type PgClient } from '../lib/postgres.ts';
import { canonicalValue, fromItemValue } from '../model/attribute-json.ts';
import type { AttributeValue, Decoder } from '../model/attribute.ts';
import type { AccessPattern, Mapper } from '../model/entity.ts';
import { keyAttributesOf, TTL_ATTRIBUTE } from '../model/table.ts';
import { compileTemplate } from '../model/template.ts';
import { decoderFor } from '../model/decode/index.ts';
import { ItemBuilder, isReject, type JoinLookup } from '../model/item.ts';
import { describeError } from '../lib/dynamo-errors.ts';
import type { Check } from '../lib/verify-report.ts';

type Client = Pick<DynamoDBClient, 'send'>;
type Row = (string | null)[];

/** Raw text of every value: what COPY prints, as the extract files hold it (the session's settings are pinned). */
const RAW_TEXT = { getTypeParser: () => (text: string) => text } as never;
/** Source rows read per page while looking for samples, and pages read at most per sample wanted. */
const PAGE_ROWS = 500;
const MAX_ROWS_PER_SAMPLE = 100;

/** What a source row renders to for one pattern: its item's key in the queried index, or why it has no item there. */
/** A row's key in the index; `expired`: its item's ttl has passed, so a query that filters on ttl must not return it. */
type Rendered = { partition: string; sort: string; expired: boolean } | { none: 'rejected' | 'not in index' };

/**
 * `id`: the primary key's values as the item's `data` holds them (decoded: a
 * timestamp canonical, bytea base64, …), undefined where missing; `idText`
 * their canonical texts, which a source row's decoded key compares with.
 */
interface Answer { partition: string; sort: string; entityType: string; id: (AttributeValue | undefined)[]; idText: string }

/** The canonical text of a primary key's values (see Answer). */
const idText = (values: (AttributeValue | undefined)[]) => JSON.stringify(values.map((v) => (v === undefined ? null : canonicalValue(v))));

/**
 * The text PostgreSQL reads back as the column's value from a value `data`
 * holds (compared as the column's type, so a canonical timestamp finds its
 * row, and the primary key's index is used); undefined for a value no key
 * column decodes to.
 */
function sqlText(value: AttributeValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  if ('S' in value) return value.S;
  if ('N' in value) return value.N;
  if ('BOOL' in value) return String(value.BOOL);
  if ('B' in value) return `\\x${Buffer.from(value.B, 'base64').toString('hex')}`;
  return undefined;
}

/** Builds items from source rows as transform does, joins read from the source. */
class SourceRows {
  private readonly builder: ItemBuilder;
  private readonly joined = new Map<string, Map<string, string | null>>();
  private readonly select: string;
  /** The primary key columns' positions in a row, and their decoders (as transform writes `data`). */
  private readonly keyAt: number[];
  private readonly keyDecoders: Decoder[];

  constructor(private readonly db: PgClient, private readonly mapper: Mapper, private readonly entry: TableEntry, private readonly tables: TableEntry[]) {
    const joins = new Map<string, JoinLookup>(Object.keys(mapper.joins ?? {}).map((name) => {
      const values = new Map<string, string | null>();
      this.joined.set(name, values);
      return [name, { has: (key: string) => values.has(key), get: (key: string) => values.get(key) ?? undefined }];
    }));
    this.builder = new ItemBuilder(mapper, entry, joins);
    this.keyAt = entry.primary_key.map((c) => entry.columns.findIndex((x) => x.name === c));
    this.keyDecoders = this.keyAt.map((i) => decoderFor(entry.columns[i]!));
    this.select = `SELECT ${entry.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${quoteIdent(entry.schema)}.${quoteIdent(entry.table)}`;
  }

  /** A page of rows in primary key order. */
  async page(offset: number): Promise<Row[]> {
    const order = this.entry.primary_key.map(quoteIdent).join(', ');
    return this.query(`${this.select} ORDER BY ${order} LIMIT ${PAGE_ROWS} OFFSET ${offset}`, []);
  }

  /** The row whose primary key is `id`, as an item's `data` holds it (undefined when the source no longer has it). */
  async byId(id: (AttributeValue | undefined)[]): Promise<Row | undefined> {
    const values = id.map(sqlText);
    if (values.some((v) => v === undefined)) return undefined;
    const where = this.entry.primary_key.map((c, i) => `${quoteIdent(c)} = $${i + 1}`).join(' AND ');
    return (await this.query(`${this.select} WHERE ${where}`, values))[0];
  }

  /** The primary key's values as PostgreSQL printed them (hashed into failures, never shown). */
  idOf(row: Row): string[] {
    return this.keyAt.map((i) => row[i] ?? '');
  }

  /** The canonical text of the row's primary key as its item's `data` holds it (see Answer). */
  idTextOf(row: Row): string {
    return idText(this.keyAt.map((at, i) => {
      const text = row[at];
      return text === null || text === undefined ? undefined : this.keyDecoders[i]!(text, () => {});
    }));
  }

  render(row: Row, keys: { partition: string; sort: string }, now: number): Rendered {
    const built = this.builder.build(row, 0);
    if (isReject(built)) return { none: 'rejected' };
    const item = (JSON.parse(built.line) as { Item: Record<string, { S?: string }> }).Item;
    const partition = item[keys.partition]?.S;
    const sort = item[keys.sort]?.S;
    if (partition === undefined || sort === undefined) return { none: 'not in index' };
    return { partition, sort, expired: built.ttl !== undefined && built.ttl < now };
  }

  private async query(text: string, values: unknown[]): Promise<Row[]> {
    const rows = (await this.db.query<Row>({ text, values, rowMode: 'array', types: RAW_TEXT })).rows;
    await this.readJoins(rows);
    return rows;
  }

  /** The joined values these rows need, read from the source (as catchup reads them). */
  private async readJoins(rows: Row[]): Promise<void> {
    for (const [name, join] of Object.entries(this.mapper.joins ?? {})) {
      const values = this.joined.get(name)!;
      const at = this.entry.columns.findIndex((c) => c.name === join.on);
      const wanted = [...new Set(rows.map((r) => r[at]).filter((v): v is string => v !== null && v !== undefined && !values.has(v)))];
      if (wanted.length === 0) continue;
      const other = this.tables.find((t) => t.name === join.table);
      if (!other) throw new UserError(`access patterns of ${this.entry.name}: join ${name} reads table ${join.table}, which the run's extract does not hold`);
      const found = await this.db.query<Row>({
        text: `SELECT ${quoteIdent(join.match)}, ${quoteIdent(join.take)} FROM ${quoteIdent(other.schema)}.${quoteIdent(other.table)} WHERE ${quoteIdent(join.match)}::text = ANY($1::text[])`,
        values: [wanted], rowMode: 'array', types: RAW_TEXT,
      });
      for (const [match, take] of found.rows) if (match !== null && match !== undefined) values.set(match, take ?? null);
    }
  }
}

/**
 * The items a query returns: their key in the index, entity type and the
 * primary key their `data` holds; and with a Limit, the sort key of the last
 * item DynamoDB evaluated when the Limit stopped it (it applies the Limit
 * before the filter, so expired items count towards it though not returned).
 */
async function query(client: Client, tableName: string, input: Omit<QueryCommandInput, 'TableName'>, keys: { partition: string; sort: string }, primaryKey: string[]): Promise<{ answers: Answer[]; lastEvaluated?: string }> {
  const names: Record<string, string> = { ...input.ExpressionAttributeNames, '#data': 'data', '#type': 'entity_type', '#ipk': keys.partition, '#isk': keys.sort };
  primaryKey.forEach((c, i) => { names[`#id${i}`] = c; });
  const projection = ['#ipk', '#isk', '#type', ...primaryKey.map((_, i) => `#data.#id${i}`)].join(', ');
  const answers: Answer[] = [];
  let start: QueryCommandInput['ExclusiveStartKey'];
  let lastEvaluated: string | undefined;
  do {
    // Retried in the SDK's retry step only (lib/aws.ts).
    const page = await client.send(new QueryCommand({
      ...input, TableName: tableName, ProjectionExpression: projection, ExpressionAttributeNames: names,
      ...(start ? { ExclusiveStartKey: start } : {}),
    })).catch((err: unknown) => {
      throw new UserError(`Query on ${tableName} failed: ${describeError(err)}`);
    });
    for (const item of page.Items ?? []) {
      const data: Record<string, SdkValue> = item.data?.M ?? {};
      const id = primaryKey.map((c) => (Object.hasOwn(data, c) ? fromItemValue({ v: data[c]! }).v : undefined));
      answers.push({
        partition: item[keys.partition]?.S ?? '', sort: item[keys.sort]?.S ?? '', entityType: item.entity_type?.S ?? '',
        id, idText: idText(id),
      });
    }
    // A Limit means "the first N": no further pages.
    if (input.Limit) lastEvaluated = page.LastEvaluatedKey?.[keys.sort]?.S;
    start = input.Limit ? undefined : page.LastEvaluatedKey;
  } while (start);
  return { answers, ...(lastEvaluated !== undefined ? { lastEvaluated } : {}) };
}

/** DynamoDB orders sort keys by their UTF-8 bytes. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
const hash = (values: string[]) => sha256Hex(values.join('\n')).slice(0, 16);

export async function checkAccessPattern(
  pattern: AccessPattern, mapper: Mapper, entry: TableEntry, tables: TableEntry[], db: PgClient, client: Client, tableName: string, sampleSize: number,
): Promise<Check> {
  const name = `access pattern: ${pattern.name}`;
  const index = pattern.index ?? 'table';
  const templates = index === 'table' ? mapper.key : mapper.indexes?.[index];
  if (!templates) throw new UserError(`entity ${mapper.table}: access pattern ${JSON.stringify(pattern.name)} queries ${index}, for which the entity has no key templates`);
  if (entry.primary_key.length === 0) {
    return { name, ok: false, numbers: { samples: 0, answers: 0, mismatches: 0 }, failures: [], note: `${entry.name} has no primary key: its items cannot be traced to source rows` };
  }
  const keys = keyAttributesOf(index);
  const lead = compileTemplate(templates.sk).lead;
  const source = new SourceRows(db, mapper, entry, tables);
  const now = Math.floor(Date.now() / 1000);

  const samples: { row: Row; key: { partition: string; sort: string; expired: boolean } }[] = [];
  /** Rows read that are no sample, by why. */
  const skipped = { rejected: 0, 'not in index': 0 };
  let read = 0;
  for (let offset = 0; samples.length < sampleSize && offset < sampleSize * MAX_ROWS_PER_SAMPLE; offset += PAGE_ROWS) {
    const rows = await source.page(offset);
    for (const row of rows) {
      if (samples.length >= sampleSize) break;
      read++;
      const rendered = source.render(row, keys, now);
      if ('none' in rendered) skipped[rendered.none]++;
      else samples.push({ row, key: rendered });
    }
    if (rows.length < PAGE_ROWS) break;
  }

  const queried = new Map<string, { answers: Answer[]; lastEvaluated?: string }>();
  const traced = new Map<string, string | undefined>();
  /** Why an answering item is not one the source gives this key (undefined: it is). */
  const trace = async (answer: Answer): Promise<string | undefined> => {
    const id = answer.idText;
    if (!traced.has(id)) {
      const row = await source.byId(answer.id);
      const rendered = row ? source.render(row, keys, now) : undefined;
      traced.set(id, answer.entityType !== mapper.entityType ? `an item of entity_type ${answer.entityType}`
        : !rendered ? 'an item whose source row is gone'
          : 'none' in rendered ? `an item whose source row is ${rendered.none}`
            : rendered.expired ? 'an item whose source row is expired'
            : rendered.partition !== answer.partition || rendered.sort !== answer.sort ? 'an item whose source row renders another key' : undefined);
    }
    return traced.get(id);
  };

  const failures: Record<string, unknown>[] = [];
  let answers = 0;
  for (const sample of samples) {
    let result = queried.get(sample.key.partition);
    if (!result) {
      const values: Record<string, { S: string } | { N: string }> = { ':pk': { S: sample.key.partition } };
      const attributeNames: Record<string, string> = { '#pk': keys.partition };
      let condition = '#pk = :pk';
      if (lead) {
        condition += ' AND begins_with(#sk, :sk)';
        attributeNames['#sk'] = keys.sort;
        values[':sk'] = { S: lead };
      }
      const input: Omit<QueryCommandInput, 'TableName'> = {
        ...(index === 'table' ? {} : { IndexName: index }),
        KeyConditionExpression: condition, ExpressionAttributeNames: attributeNames, ExpressionAttributeValues: values,
        ...(pattern.newestFirst ? { ScanIndexForward: false } : {}),
        ...(pattern.limit ? { Limit: pattern.limit } : {}),
        // Apps filter out items whose ttl has passed: DynamoDB deletes them at any time after.
        ...(mapper.ttl ? { FilterExpression: 'attribute_not_exists(#ttl) OR #ttl >= :now' } : {}),
      };
      if (mapper.ttl) {
        attributeNames['#ttl'] = TTL_ATTRIBUTE;
        values[':now'] = { N: String(now) };
      }
      result = await query(client, tableName, input, keys, entry.primary_key);
      queried.set(sample.key.partition, result);
    }
    const got = result.answers;
    answers += got.length;
    const id = source.idTextOf(sample.row);
    const found = got.some((a) => a.idText === id);
    // Newest first, Limit N: the sample may be older than the N evaluated (DynamoDB stopped at the
    // Limit before the ttl filter, so fewer may be returned), never newer than the last. In an index,
    // sort keys may tie, and which of the tied items come first is DynamoDB's: one tied with the last
    // evaluated may lie past the Limit too. (The table's own sort keys are unique in a partition.)
    const order = result.lastEvaluated === undefined ? undefined : byteOrder(result.lastEvaluated, sample.key.sort) * (pattern.newestFirst ? 1 : -1);
    const passedOver = !found && order !== undefined && (order > 0 || (order === 0 && index !== 'table'));
    const problems: string[] = [];
    // One at a time: one database session.
    for (const answer of got) {
      const problem = await trace(answer);
      if (problem !== undefined && !problems.includes(problem)) problems.push(problem);
    }
    // An expired row is a sample too (a source whose rows have all expired still has its queries
    // checked): its item must be filtered out, and whatever answers must trace back.
    if (sample.key.expired) {
      if (found) problems.unshift("the sampled row's item is returned though its ttl has passed");
    } else if (!found && !passedOver) problems.unshift("the sampled row's item is not returned");
    if (problems.length > 0) {
      // Sample keys and ids are hashed: emails, external ids and session ids must not reach logs.
      failures.push({ sample_hash: hash(source.idOf(sample.row)), key_hash: hash([sample.key.partition]), dynamodb_items: got.length, problems });
    }
  }
  // No sample: an empty table proves nothing, nor do rows none of which has the index's key; but rejected rows
  // are rows the source says no item answers for, as the check before samples were rendered counted them:
  // samples whose queries rightly found nothing. (Expired rows are samples: see above.)
  const nothingToQuery = samples.length === 0 && read > 0;
  return {
    name,
    ok: failures.length === 0 && (samples.length > 0 || skipped.rejected > 0),
    numbers: { samples: samples.length, answers, mismatches: failures.length },
    failures,
    ...(samples.length === 0 ? {
      note: nothingToQuery
        ? `no row has an item to query: of ${read} source row(s), ${skipped.rejected} rejected, ${skipped['not in index']} not in ${index === 'table' ? 'the table' : index}`
        : 'no sample rows in the source database',
    } : {}),
  };
}
