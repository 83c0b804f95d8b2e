// A batch of decoded changes → the writes that bring the DynamoDB table to the
// batch's end, through the transform's own mappers (model/item.ts), in
// commit order: insert/update → put, delete → delete, an item key that
// changed → delete the old item and put the new. One write per item key
// comes out of a batch (a BatchWriteItem may not name one key twice), so the
// writes can go out in any order: the rows that hold the key at the batch's
// end decide it. A key's holders are tracked by the rows' values, not by the
// order of its writes: one statement may move a row into a key another row
// has not yet left (a DEFERRABLE unique key, `SET pos = pos + 1`), and that
// other row's leaving must not delete the item the first one put there.
//
// Joins (a mapper that reads another table's row): the joined row's value is
// taken from the changes seen so far in this run of catchup when that row
// changed, else read from the source as it is now. An old row (a delete's, an
// update's before image) is keyed with the last value seen even when the
// joined row was deleted first (ON DELETE CASCADE logs the parent first). When
// a joined value changes (a device moves to another user), the rows that join
// it are read from the source and moved: old item deleted, new one put. Reads
// from the source "now" can be ahead of the batch; the changes between are in
// the slot and are applied by a later batch, so once writers stop and the slot
// is drained the table equals the source, which cutover proves.
import type { TableEntry } from '../lib/manifest.ts';
import { quoteIdent, type PgClient } from '../lib/postgres.ts';
import { qualifiedName } from '../lib/run-layout.ts';
import { UserError } from '../lib/errors.ts';
import { ItemBuilder, isReject, type Item, type JoinLookup, type Reject } from '../model/item.ts';
import type { Join, Mapper } from '../model/entity.ts';
import type { TableMapping } from '../model/table-mapping.ts';
import { toItemValue, type ItemJson, type ItemValue } from '../model/attribute-json.ts';
import { UNCHANGED, type Message, type Relation, type TupleValue } from './decode.ts';

export type Write = { kind: 'put'; pk: string; sk: string; item: ItemValue } | { kind: 'delete'; pk: string; sk: string };

export interface CatchupReject extends Reject {
  /** The commit LSN of the change's transaction (catchup rows have no extract row number: `row` is 0). */
  lsn: string;
}

export interface TableCounts { inserts: number; updates: number; deletes: number; rejected: number }

type Row = (string | null)[];

/** The table's items of `entityType` under partition key `pk` whose sort key starts with `skPrefix` (a DynamoDB Query). */
export type ItemsUnder = (pk: string, skPrefix: string, entityType: string) => Promise<{ pk: string; sk: string }[]>;
/** A joined row's value as last seen: `deleted` rows still key the old rows that joined them. */
interface Seen { value: string | null; deleted: boolean }

/** Raw text of every value: what COPY prints, as the extract files hold it. */
const RAW_TEXT = { getTypeParser: () => (text: string) => text } as never;

export class ChangeMapper {
  private readonly tables = new Map<string, { entry: TableEntry; builder?: ItemBuilder; mapper?: Mapper }>();
  private readonly relations = new Map<number, { entry: TableEntry; builder?: ItemBuilder; mapper?: Mapper; order: number[] }>();
  /** Relations described by the slot that the run does not hold (a partition of a table published as its root). */
  private readonly unknown = new Map<number, string>();
  /** Per join target `table\ncolumn match\ncolumn take`: match value → take value, as changes showed it. */
  private readonly seen = new Map<string, Map<string, Seen>>();
  /** While building an old row, deleted joined rows still answer. */
  private oldRow = false;
  readonly counts = new Map<string, TableCounts>();

  constructor(mappings: TableMapping[], private readonly source: PgClient, private readonly itemsUnder: ItemsUnder) {
    for (const mapping of mappings) {
      const mapper = mapping.mapper?.mapper;
      const joins = new Map<string, JoinLookup>(Object.entries(mapper?.joins ?? {}).map(([name, join]) => [name, this.lookup(join)]));
      this.tables.set(mapping.table.name, { entry: mapping.table, ...(mapper ? { mapper, builder: new ItemBuilder(mapper, mapping.table, joins) } : {}) });
    }
  }

  private lookup(join: Join): JoinLookup {
    const values = this.seenOf(join);
    return {
      has: (key) => this.answer(values.get(key)) !== undefined,
      get: (key) => this.answer(values.get(key)),
    };
  }

  private answer(seen: Seen | undefined): string | null | undefined {
    if (!seen || (seen.deleted && !this.oldRow)) return undefined;
    return seen.value;
  }

  private seenOf(join: Pick<Join, 'table' | 'match' | 'take'>): Map<string, Seen> {
    const id = `${join.table}\n${join.match}\n${join.take}`;
    let values = this.seen.get(id);
    if (!values) this.seen.set(id, (values = new Map()));
    return values;
  }

  /** The joins whose other table is `table` (their values change with its rows), with the tables that use them. */
  private joinsOnto(table: string): { owner: string; name: string; join: Join }[] {
    const found: { owner: string; name: string; join: Join }[] = [];
    for (const [owner, t] of this.tables) {
      for (const [name, join] of Object.entries(t.mapper?.joins ?? {})) if (join.table === table) found.push({ owner, name, join });
    }
    return found;
  }

  /** A table the run skips and no join reads: its rows make no item, so neither its changes nor its DDL (nor a TRUNCATE) matter. */
  private movesNoItem(table: { entry: TableEntry; builder?: ItemBuilder }): boolean {
    return !table.builder && this.joinsOnto(table.entry.name).length === 0;
  }

  /** Maps one batch's messages; returns each touched item's last write and the batch's rejects. */
  async map(messages: Message[]): Promise<{ writes: Map<string, Write>; rejects: CatchupReject[] }> {
    const keys = new KeyStates();
    const rejects: CatchupReject[] = [];
    let lsn = '';
    const put = (item: Item, row: Row) => {
      const json = JSON.parse(item.line) as { Item: ItemJson };
      keys.put({ kind: 'put', pk: item.pk, sk: item.sk, item: toItemValue(json.Item) }, row);
    };
    const remove = (item: Item, row: Row) => keys.remove(item.pk, item.sk, row);
    for (const message of messages) {
      switch (message.kind) {
        case 'begin':
          lsn = message.finalLsn;
          break;
        case 'relation': {
          // A partition's change published as its root's comes after the root's description and the partition's own
          // (pgoutput sends both): only a table a change names must be the run's.
          const name = qualifiedName(message.relation.schema, message.relation.table);
          const table = this.tables.get(name);
          // Not checked against the extract's columns: a scratch table's DDL would stop catchup for nothing.
          if (table && this.movesNoItem(table)) this.relations.set(message.relation.id, { ...table, order: [] });
          else if (table) {
            const relation = this.relationOf(message.relation);
            await this.checkTypes(relation, message.relation);
            this.relations.set(message.relation.id, relation);
          } else this.unknown.set(message.relation.id, name);
          break;
        }
        case 'truncate': {
          // A table the run skips, whose values no join reads, has no items to empty: its TRUNCATE (a scratch or
          // queue table emptied now and then) changes nothing. Any other stops catchup.
          const foreign = message.relationIds.map((id) => this.unknown.get(id)).find((name) => name !== undefined);
          // Named as its other changes are (not by an oid): the publication sends a table the run does not hold.
          if (foreign) throw new UserError(`the slot sent changes of table ${foreign}, which run's extract does not hold`);
          const emptied = message.relationIds.filter((id) => {
            const relation = this.relations.get(id);
            return !relation || !this.movesNoItem(relation);
          });
          if (emptied.length === 0) break;
          throw new UserError(`table(s) ${emptied.map((id) => this.relations.get(id)?.entry.name ?? `oid ${id}`).join(', ')} were truncated in the transaction committed at ${lsn}: ` +
            'catchup does not empty a table; extract FOLLOW=1 into a new RUN');
        }
        case 'insert': case 'update': case 'delete': {
          const relation = this.relations.get(message.relationId);
          if (!relation) {
            const name = this.unknown.get(message.relationId);
            if (name) throw new UserError(`the slot sent changes of table ${name}, which run's extract does not hold`);
            throw new Error(`pgoutput: a change of relation ${message.relationId} before its description`);
          }
          const counts = this.countsOf(relation.entry.name);
          counts[message.kind === 'insert' ? 'inserts' : message.kind === 'update' ? 'updates' : 'deletes']++;
          if (this.movesNoItem(relation)) break;
          const old = message.kind === 'insert' ? undefined : message.old && this.row(relation, message.old);
          const row = message.kind === 'delete' ? undefined : this.row(relation, message.row, message.kind === 'update' ? message.old : undefined);
          // An old row of the identity's columns only (the others NULL) would key the old item wrongly: its item stayed, silently.
          if ((message.kind === 'update' && !old) || (message.kind !== 'insert' && message.keyOnly)) {
            throw new UserError(`table ${relation.entry.name}: ${message.kind === 'delete' ? 'a delete' : 'an update'} came without its whole old row: the table's REPLICA IDENTITY (or, partitioned, one of its partitions') is no longer FULL; run ALTER TABLE … REPLICA IDENTITY FULL on it, then extract FOLLOW=1 into a new RUN`);
          }
          const oldItem = old && relation.builder ? await this.build(relation, old, true) : undefined;
          const newItem = row && relation.builder ? await this.build(relation, row, false) : undefined;
          // The old row leaves its key (even to come back: the key's holders are counted), the new row takes its own.
          if (oldItem && !isReject(oldItem)) remove(oldItem, old!);
          if (newItem && isReject(newItem)) {
            counts.rejected++;
            rejects.push({ ...newItem, lsn });
          } else if (newItem) put(newItem, row!);
          await this.followJoins(relation.entry, old, row, put, remove, keys, (r) => {
            this.countsOf(r.table).rejected++;
            rejects.push({ ...r, lsn });
          });
          break;
        }
        default:
          break;
      }
    }
    return { writes: keys.writes(), rejects };
  }

  private countsOf(table: string): TableCounts {
    let counts = this.counts.get(table);
    if (!counts) this.counts.set(table, (counts = { inserts: 0, updates: 0, deletes: 0, rejected: 0 }));
    return counts;
  }

  /** A relation's columns against the manifest's: the order a tuple's values take in an extract row. */
  private relationOf(relation: Relation) {
    const name = qualifiedName(relation.schema, relation.table);
    const table = this.tables.get(name);
    if (!table) throw new UserError(`the slot sent changes of table ${name}, which run's extract does not hold`);
    const order = table.entry.columns.map((column) => {
      const at = relation.columns.indexOf(column.name);
      if (at < 0) {
        throw new UserError(column.generated
          ? `table ${name}: the slot does not send generated column ${column.name} (PostgreSQL 18 publishes stored generated columns; older servers cannot): catchup cannot rebuild its items`
          : `table ${name}: column ${column.name} is gone from the source since the extract (DDL is not replicated): extract FOLLOW=1 into a new RUN`);
      }
      return at;
    });
    if (relation.columns.length !== order.length) {
      const added = relation.columns.filter((c) => !table.entry.columns.some((m) => m.name === c));
      throw new UserError(`table ${name}: column(s) ${added.join(', ')} were added at the source since the extract (DDL is not replicated): extract FOLLOW=1 into a new RUN`);
    }
    return { ...table, order };
  }

  /**
   * The relation's column types (as its changes were made) against the
   * manifest's: an ALTER TYPE since the extract changes a value's text (and
   * its attribute type), and is not replicated any more than a new column.
   * Named as extract names them (format_type, with the same search_path).
   */
  private async checkTypes(relation: { entry: TableEntry; order: number[] }, described: Relation): Promise<void> {
    const { rows } = await this.source.query<{ type: string }>(
      'SELECT format_type(t.oid, t.typmod) AS type FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS t(oid, typmod, at) ORDER BY t.at',
      [described.types.map((t) => t.oid), described.types.map((t) => t.typmod)],
    );
    relation.entry.columns.forEach((column, i) => {
      const now = rows[relation.order[i]!]?.type;
      if (now !== undefined && now !== column.type) {
        throw new UserError(`table ${relation.entry.name}: column ${column.name} is ${now} at the source, ${column.type} when extracted (ALTER TYPE; DDL is not replicated): extract FOLLOW=1 into a new RUN`);
      }
    });
  }

  /** A tuple in the extract's column order; an unchanged TOASTed value comes from the old row (REPLICA IDENTITY FULL sends it whole). */
  private row(relation: { entry: TableEntry; order: number[] }, values: TupleValue[], old?: TupleValue[]): Row {
    return relation.order.map((at, i) => {
      const value = values[at];
      if (value !== UNCHANGED) return value ?? null;
      const before = old?.[at];
      if (before === undefined || before === UNCHANGED) {
        throw new UserError(`table ${relation.entry.name}: column ${relation.entry.columns[i]!.name} came as "unchanged" without its old value: set REPLICA IDENTITY FULL on the table`);
      }
      return before;
    });
  }

  /** Builds an item, first reading from the source any joined value no change has shown yet. */
  private async build(table: { entry: TableEntry; builder?: ItemBuilder; mapper?: Mapper }, row: Row, old: boolean): Promise<Item | Reject> {
    for (const join of Object.values(table.mapper?.joins ?? {})) {
      const on = row[table.entry.columns.findIndex((c) => c.name === join.on)];
      if (on === null || on === undefined) continue;
      const values = this.seenOf(join);
      if (!values.has(on)) {
        const other = this.tables.get(join.table)!.entry;
        const { rows } = await this.source.query<string[]>({
          text: `SELECT ${quoteIdent(join.take)} FROM ${quoteIdent(other.schema)}.${quoteIdent(other.table)} WHERE ${quoteIdent(join.match)} = $1`,
          values: [on], rowMode: 'array', types: RAW_TEXT,
        });
        if (rows.length > 0) values.set(on, { value: rows[0]![0] ?? null, deleted: false });
      }
    }
    this.oldRow = old;
    try {
      return table.builder!.build(row, 0);
    } finally {
      this.oldRow = false;
    }
  }

  /**
   * A changed row of a joined table: records its value for the rows that join
   * it, and when that value (or its match) changed, moves those rows' items.
   */
  private async followJoins(
    entry: TableEntry, old: Row | undefined, row: Row | undefined, put: (item: Item, row: Row) => void, remove: (item: Item, row: Row) => void, writes: KeyStates,
    reject: (reject: Reject) => void,
  ): Promise<void> {
    const col = (name: string) => entry.columns.findIndex((c) => c.name === name);
    for (const { owner, name, join } of this.joinsOnto(entry.name)) {
      const values = this.seenOf(join);
      const [oldMatch, oldTake] = old ? [old[col(join.match)] ?? null, old[col(join.take)] ?? null] : [null, null];
      const [newMatch, newTake] = row ? [row[col(join.match)] ?? null, row[col(join.take)] ?? null] : [null, null];
      const moved = old !== undefined && (oldMatch !== newMatch || oldTake !== newTake || !row);
      const dependents = moved && row && oldMatch !== null ? await this.rowsJoining(owner, join, [...new Set([oldMatch, newMatch].filter((v): v is string => v !== null))]) : [];
      const target = this.tables.get(owner)!;
      const before = [];
      if (oldMatch !== null && !values.has(oldMatch)) values.set(oldMatch, { value: oldTake, deleted: false });
      for (const dependent of dependents) before.push(await this.build(target, dependent, true));
      // Rows that joined the old value but are gone from the source by now still have items under the
      // old value: found in the table (and in this batch's writes) by the key the old value gives.
      if (moved && row && oldMatch !== null && oldTake !== null) {
        for (const key of await this.itemsJoining(target.mapper!, name, join, oldMatch, oldTake, writes)) writes.clear(key.pk, key.sk);
      }
      if (oldMatch !== null && (!row || oldMatch !== newMatch)) values.set(oldMatch, { value: oldTake, deleted: true });
      if (newMatch !== null) values.set(newMatch, { value: newTake, deleted: false });
      for (const [i, dependent] of dependents.entries()) {
        const was = before[i]!;
        const now = await this.build(target, dependent, false);
        if (!isReject(was)) remove(was, dependent);
        if (isReject(now)) reject(now);
        else put(now, dependent);
      }
    }
  }

  /**
   * Item keys of `mapper` that a row joining `match` (whose joined value was
   * `take`) has: the partition key must be fully given by the join and its
   * `on` column (USER#{user_id}, JOB#{client_job_id}); the sort key's text up
   * to its first other value is the prefix searched. Else none are found, and
   * the rows the source still holds are all that move.
   */
  private async itemsJoining(mapper: Mapper, name: string, join: Join, match: string, take: string, writes: KeyStates): Promise<{ pk: string; sk: string }[]> {
    const known = (placeholder: string) => (placeholder === name ? take : placeholder === join.on ? match : undefined);
    const pk = templatePrefix(mapper.key.pk, known);
    if (!pk.complete) return [];
    const sk = templatePrefix(mapper.key.sk, known).text;
    const found = await this.itemsUnder(pk.text, sk, mapper.entityType);
    for (const w of writes.puts()) if (w.pk === pk.text && w.sk.startsWith(sk) && w.item.entity_type?.S === mapper.entityType) found.push({ pk: w.pk, sk: w.sk });
    return found;
  }

  /** The rows of `owner` that join any of `matches`, as the source holds them now, in the extract's column order. */
  private async rowsJoining(owner: string, join: Join, matches: string[]): Promise<Row[]> {
    const entry = this.tables.get(owner)!.entry;
    const { rows } = await this.source.query<Row>({
      text: `SELECT ${entry.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${quoteIdent(entry.schema)}.${quoteIdent(entry.table)} WHERE ${quoteIdent(join.on)}::text = ANY($1::text[])`,
      values: [matches], rowMode: 'array', types: RAW_TEXT,
    });
    return rows;
  }
}

/**
 * Per item key, what a batch did to it: the rows put there that still hold
 * it (by their values: a later change's old row names the row it was), and
 * whether the item the table held before the batch was left by its row.
 * At the end, a key still held is put (its last holder's item), a key left
 * and not taken again is deleted, and a key whose holders all left again
 * keeps what the table had. Two rows with the same values give the same
 * item, so which of them left does not matter.
 */
export class KeyStates {
  private readonly states = new Map<string, { holders: { row: string; write: Extract<Write, { kind: 'put' }> }[]; left: boolean; pk: string; sk: string }>();

  private state(pk: string, sk: string) {
    const id = `${pk}\0${sk}`;
    let state = this.states.get(id);
    if (!state) this.states.set(id, (state = { holders: [], left: false, pk, sk }));
    return state;
  }

  put(write: Extract<Write, { kind: 'put' }>, row: Row): void {
    this.state(write.pk, write.sk).holders.push({ row: JSON.stringify(row), write });
  }

  /** The row whose values were `row` leaves the key: one of this batch's holders with those values, else the item the table held. */
  remove(pk: string, sk: string, row: Row): void {
    const state = this.state(pk, sk);
    const text = JSON.stringify(row);
    let at = state.holders.length - 1;
    while (at >= 0 && state.holders[at]!.row !== text) at--;
    if (at >= 0) state.holders.splice(at, 1);
    else state.left = true;
  }

  /** The item at the key goes, whoever put it (an item under a joined value that moved). */
  clear(pk: string, sk: string): void {
    const state = this.state(pk, sk);
    state.holders.length = 0;
    state.left = true;
  }

  /** The puts the batch makes so far. */
  *puts(): Generator<Extract<Write, { kind: 'put' }>> {
    for (const state of this.states.values()) if (state.holders.length > 0) yield state.holders.at(-1)!.write;
  }

  writes(): Map<string, Write> {
    const writes = new Map<string, Write>();
    for (const [id, state] of this.states) {
      if (state.holders.length > 0) writes.set(id, state.holders.at(-1)!.write);
      else if (state.left) writes.set(id, { kind: 'delete', pk: state.pk, sk: state.sk });
    }
    return writes;
  }
}

/** A key template's text up to its first value `known` cannot give (`{name:4}` padding is not rendered: it stops there too). */
export function templatePrefix(template: string, known: (name: string) => string | undefined): { text: string; complete: boolean } {
  let text = '';
  let at = 0;
  for (const m of template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)(:\d+)?\}/g)) {
    text += template.slice(at, m.index);
    const value = m[2] ? undefined : known(m[1]!);
    if (value === undefined) return { text, complete: false };
    text += value;
    at = m.index! + m[0].length;
  }
  return { text: text + template.slice(at), complete: true };
}
