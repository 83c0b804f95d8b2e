// A unit built with a helper thread writes the very files one thread writes,
// and stops at the same first bad row with the same error.
import test from 'ava';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { manifestText, readExtractManifest, type ExtractManifest } from '../lib/manifest.ts';
import { sha256Hex } from '../lib/meter.ts';
import { EXTRACT_MANIFEST_KEY, itemsKey, keysKey, rejectsKey, unitKey } from '../lib/run-layout.ts';
import { openStorage, type Storage } from '../lib/storage.ts';
import { ENTITIES_DIR, isEntityFile } from '../model/registry.ts';
import { mapTables } from '../model/table-mapping.ts';
import { writeDumpRun } from '../scripts/golden.ts';
import type { FixtureKind } from '../fixtures/hostile.ts';
import { BuildHelper } from './build-helper.ts';
import { JoinCache, resolveJoins } from './join-cache.ts';
import { runTransform } from './runner.ts';
import { transformUnit } from './unit.ts';
import { unitsOf, type Unit, type UnitOptions, type UnitRecord } from './units.ts';
import { unitTask } from './workers.ts';
import { workerBundle } from './worker-bundle.ts';

const options: UnitOptions = { gzipLevel: 1, unmapped: 'fail', dropExpired: false };

/** A file of the run in `store` (a local directory), or undefined. */
const fileOf = (store: string, key: string) => readFile(path.join(store, 'run', key)).catch(() => undefined);

/**
 * The fixture dumps with each table's rows repeated to about `bytes` of CSV,
 * so a part is read as many pushes (64 KiB chunks) and both threads build
 * some; `edit` may change a table's CSV text after that.
 */
async function inflatedRun(kind: FixtureKind, bytes: number, edit: (table: string, csv: string) => string = (_, csv) => csv) {
  const store = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-helper-'));
  await writeDumpRun(store, 'run', kind);
  const run = openStorage(store).sub('run');
  const extract = (await readExtractManifest(run))!;
  // A joined table's match column must stay unique: those keep their rows.
  const joined = new Set((await mapTables(extract, 'fail')).flatMap((m) => Object.values(m.mapper?.mapper.joins ?? {}).map((j) => j.table)));
  for (const table of extract.tables.filter((t) => !joined.has(t.name))) {
    const part = table.parts[0]!;
    const csv = gunzipSync((await fileOf(store, part.key))!).toString('utf8');
    const [header, ...rest] = csv.split(/(?<=\n)/);
    const body = rest.join('');
    const times = body.length === 0 ? 0 : Math.ceil(bytes / body.length);
    const text = Buffer.from(edit(table.name, header + body.repeat(times)));
    const gz = gzipSync(text, { level: 1 });
    await run.put(part.key, gz);
    const rows = table.rows * times;
    Object.assign(part, { rows, raw_bytes: text.length, raw_sha256: sha256Hex(text), bytes: gz.length, sha256: sha256Hex(gz) });
    Object.assign(table, { rows, raw_bytes: text.length, bytes: gz.length });
  }
  await run.put(EXTRACT_MANIFEST_KEY, manifestText(extract));
  return { store, run, extract, remove: () => rm(store, { recursive: true, force: true }) };
}

/**
 * An `inflatedRun` edit: audit_events' line `fromEnd` lines before the end
 * loses its last field, and `tail` follows the text; `line` is then that
 * line's index, which is its row number (the header is line 0).
 */
function cutLastField(fromEnd: number, tail = '') {
  const cut = {
    line: 0,
    edit: (table: string, csv: string) => {
      if (table !== 'audit_events') return csv;
      const lines = csv.split('\n');
      cut.line = lines.length - fromEnd;
      lines[cut.line] = lines[cut.line]!.replace(/,[^,]*$/, '');
      return lines.join('\n') + tail;
    },
  };
  return cut;
}

/** Until `helper` (if any) has opened its unit. */
async function opened(helper: BuildHelper | undefined): Promise<void> {
  while (helper && !helper.open && !helper.failure) await sleep(10);
}

/** Runs `unit` (with a helper thread when `helped`); its files, or the error it stopped with; `sent` gets the batches the helper was sent. */
async function unitFiles(store: string, run: Storage, extract: ExtractManifest, unit: Unit, helped: boolean, sent: number[] = [], unitOptions = options): Promise<Record<string, string>> {
  const joins = await resolveJoins(unit, new JoinCache(run, extract));
  const bundle = workerBundle();
  const helper = helped ? new BuildHelper(bundle.entry, unitTask(bundle, { store, run: 'run', options: unitOptions }, unit, joins)) : undefined;
  const table = unit.mapping.table.name;
  // Sent batches once it has opened the unit: a small one would be done before.
  await opened(helper);
  try {
    await transformUnit(run, unit, extract, joins, unitOptions, () => {}, helper);
    if (helper) sent.push((helper as unknown as { nextId: number }).nextId);
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    await helper?.close();
  }
  const files: Record<string, string> = {};
  for (const key of [itemsKey(table, unit.index, 'gzip'), rejectsKey(table, unit.index), keysKey(table, unit.index), unitKey(table, unit.index)]) {
    files[key] = sha256Hex((await fileOf(store, key)) ?? Buffer.alloc(0));
  }
  return files;
}

/**
 * A model of one's own (MODEL=dir): the shipped entities copied to a folder,
 * each text through `edit` (undefined leaves the file out), with `extra` files.
 */
async function ownModel(edit: (name: string, text: string) => string | undefined, extra: Record<string, string> = {}): Promise<string> {
  const model = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-helper-model-'));
  await writeFile(path.join(model, 'package.json'), '{ "type": "module" }\n');
  for (const [name, text] of Object.entries(extra)) await writeFile(path.join(model, name), text);
  const shipped = fileURLToPath(new URL('../model', import.meta.url));
  for (const name of (await readdir(ENTITIES_DIR)).filter(isEntityFile)) {
    // The copies import the model's entity type and computed values where they are.
    const text = edit(name, (await readFile(path.join(ENTITIES_DIR, name), 'utf8')).replace(/from '\.\.\/(entity|computed)\.ts'/g, (_, m: string) => `from '${path.join(shipped, `${m}.ts`)}'`));
    if (text !== undefined) await writeFile(path.join(model, name), text);
  }
  return model;
}

async function unitsOfRun(extract: ExtractManifest): Promise<Unit[]> {
  const mappings = await mapTables(extract, 'fail');
  return mappings.flatMap((m) => unitsOf(m, extract, options, mappings));
}

for (const kind of ['realistic', 'hostile'] as const) {
  test(`${kind} fixtures: every unit's files are the same bytes with a build helper`, async (t) => {
    const { store, run, extract, remove } = await inflatedRun(kind, 2_000_000);
    try {
      const units = await unitsOfRun(extract);
      t.true(units.length > 5);
      let rejected = 0;
      let warnings = 0;
      const sent: number[] = [];
      for (const unit of units) {
        const one = await unitFiles(store, run, extract, unit, false);
        t.false('error' in one, unit.mapping.table.name);
        t.deepEqual(await unitFiles(store, run, extract, unit, true, sent), one, unit.mapping.table.name);
        const record = JSON.parse((await run.getText(unitKey(unit.mapping.table.name, unit.index)))!) as UnitRecord;
        rejected += record.part.rejected;
        warnings += Object.keys(record.warnings).length;
      }
      // Every unit sent the helper batches (some of them: this thread builds while it has 4).
      t.true(sent.length === units.length && sent.every((n) => n > 0), String(sent));
      // Rejects and warnings took the helper's path too: the hostile fixture has both.
      if (kind === 'hostile') {
        t.true(rejected > 0);
        t.true(warnings > 0);
      }
    } finally {
      await remove();
    }
  });
}

test('a bad row stops a helped unit at that row with one thread\'s error, before a malformed end', async (t) => {
  // audit_events' last row loses its last field, and the file then ends inside a quoted field:
  // the row's batch is still being built when the reading fails.
  const cut = cutLastField(2, '"unterminated');
  const { store, run, extract, remove } = await inflatedRun('realistic', 4_000_000, cut.edit);
  try {
    const unit = (await unitsOfRun(extract)).find((u) => u.mapping.table.name === 'audit_events')!;
    const one = await unitFiles(store, run, extract, unit, false);
    t.true(cut.line > 5000);
    t.regex(one.error ?? '', new RegExp(`row ${cut.line}: \\d+ fields where the manifest has`));
    t.deepEqual(await unitFiles(store, run, extract, unit, true), one);
  } finally {
    await remove();
  }
});

test('a transform of one large part runs it with a helper thread, to the same item file', async (t) => {
  const { store, remove } = await inflatedRun('realistic', 17_000_000);
  try {
    const files: string[] = [];
    const logs: string[] = [];
    for (const concurrency of [1, 2]) {
      await runTransform({ store, run: 'run', tables: ['chat_messages'], force: true, concurrency, gzipLevel: 1, unmapped: 'fail', dropExpired: false, log: (m) => logs.push(m) });
      files.push(sha256Hex((await fileOf(store, itemsKey('chat_messages', 0, 'gzip')))!));
    }
    t.is(files[0], files[1]);
    t.is(logs.filter((m) => m.includes('a helper thread builds some of its rows')).length, 1);
  } finally {
    await remove();
  }
});

test('a bad row stops a helped unit with one thread\'s error though the file then fails its checksum', async (t) => {
  // A row near the end loses a field, and the gzip file's checksum is wrong: one thread
  // reports the row before the stream fails; the batch holding it must not be dropped.
  const cut = cutLastField(50);
  const { store, run, extract, remove } = await inflatedRun('realistic', 4_000_000, cut.edit);
  try {
    const unit = (await unitsOfRun(extract)).find((u) => u.mapping.table.name === 'audit_events')!;
    const gz = (await fileOf(store, unit.part.key))!;
    gz[gz.length - 8]! ^= 1;
    await run.put(unit.part.key, gz);
    const one = await unitFiles(store, run, extract, unit, false);
    t.regex(one.error ?? '', new RegExp(`row ${cut.line}: \\d+ fields where the manifest has`));
    t.deepEqual(await unitFiles(store, run, extract, unit, true), one);
  } finally {
    await remove();
  }
});

test('a model of one\'s own whose computed value throws on a row stops a helped transform with one thread\'s error', async (t) => {
  // audit_events' middle row gets an id its (copied) entity's computed value refuses.
  const { store, remove } = await inflatedRun('realistic', 17_000_000, (table, csv) => {
    if (table !== 'audit_events') return csv;
    const lines = csv.split('\n');
    // A line that starts a record (a quoted field may hold newlines).
    const middle = lines.findIndex((l, i) => i > lines.length / 2 && /^[0-9a-f]{8}-/.test(l));
    lines[middle] = lines[middle]!.replace(/^[^,]*/, 'bad00000-0000-0000-0000-000000000000');
    return lines.join('\n');
  });
  const model = await ownModel((name, text) => (name !== 'audit_events.ts' ? text : text.replace("audit_user: orElse('user_id_hash', 'ANONYMOUS'),", `audit_user: (row) => {
      if (row('id')?.startsWith('bad0')) throw new Error(\`no user for event \${row('id')}\`);
      return orElse('user_id_hash', 'ANONYMOUS')(row);
    },`)));
  try {
    const errors: string[] = [];
    for (const concurrency of [1, 2]) {
      const logs: string[] = [];
      const error = await runTransform({
        store, run: 'run', tables: ['audit_events'], force: true, concurrency, gzipLevel: 1, unmapped: 'fail', dropExpired: false, entities: model, log: (m) => logs.push(m),
      }).then(() => 'none', (err: Error) => err.message);
      errors.push(error);
      t.is(logs.some((m) => m.includes('a helper thread builds')), concurrency === 2);
    }
    t.regex(errors[0]!, /no user for event bad0/);
    t.is(errors[1], errors[0]);
  } finally {
    await remove();
    await rm(model, { recursive: true, force: true });
  }
});

test('a helper thread that dies part-way fails its unit, naming it, or leaves this thread its rows: nothing waits on it', async (t) => {
  const { store, run, extract, remove } = await inflatedRun('realistic', 8_000_000);
  try {
    const unit = (await unitsOfRun(extract)).find((u) => u.mapping.table.name === 'audit_events')!;
    const one = await unitFiles(store, run, extract, unit, false);
    const joins = await resolveJoins(unit, new JoinCache(run, extract));
    const bundle = workerBundle();
    const helper = new BuildHelper(bundle.entry, unitTask(bundle, { store, run: 'run', options }, unit, joins));
    await opened(helper);
    let killedAt = 0;
    const worker = (helper as unknown as { worker: import('node:worker_threads').Worker }).worker;
    const error = await transformUnit(run, unit, extract, joins, options, (rows) => {
      if (killedAt === 0 && rows > 1000) {
        killedAt = rows;
        void worker.terminate();
      }
    }, helper).then(() => undefined, (err: Error) => err.message).finally(() => helper.close());
    t.true(killedAt > 0 && killedAt < unit.part.rows / 2);
    // Batches it held are lost with it: the unit fails; else this thread built the rest, to the same files.
    if (error !== undefined) t.regex(error, /build helper exited/);
    else t.deepEqual(await unitFiles(store, run, extract, unit, false), one);
  } finally {
    await remove();
  }
});

test('a model of one\'s own that the worker bundle cannot run (it reads a file beside its module) has its unit built on one thread, to the same files', async (t) => {
  const { store, remove } = await inflatedRun('realistic', 17_000_000);
  const model = await ownModel((name, text) => (name !== 'chat_messages.ts' ? text : `import { readFileSync } from 'node:fs';
const { prefix } = JSON.parse(readFileSync(new URL('./prefix.json', import.meta.url), 'utf8'));
${text.replace("sk: 'CHAT#", "sk: prefix + '#")}`), { 'prefix.json': '{ "prefix": "MESSAGE" }\n' });
  try {
    const files: string[] = [];
    const logs: string[] = [];
    for (const concurrency of [1, 2]) {
      await runTransform({ store, run: 'run', tables: ['chat_messages'], force: true, concurrency, gzipLevel: 1, unmapped: 'fail', dropExpired: false, entities: model, log: (m) => logs.push(m) });
      files.push(sha256Hex((await fileOf(store, itemsKey('chat_messages', 0, 'gzip')))!));
    }
    t.true(gunzipSync((await fileOf(store, itemsKey('chat_messages', 0, 'gzip')))!).includes('"SK":{"S":"MESSAGE#'));
    t.is(files[1], files[0]);
    t.is(logs.filter((m) => /the helper thread failed \(.*prefix\.json/.test(m)).length, 1, logs.join('\n'));
  } finally {
    await remove();
    await rm(model, { recursive: true, force: true });
  }
});

test('records longer than many chunks (a huge message, one over 400 KB, a key too long) give a helped unit the same files', async (t) => {
  // chat_messages' message field (the 6th) made huge in rows here and there.
  const { store, run, extract, remove } = await inflatedRun('realistic', 17_000_000, (table, csv) => {
    if (table !== 'chat_messages') return csv;
    const lines = csv.split('\n');
    const starts = lines.flatMap((l, i) => (/^[0-9a-f]{8}-[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[^",]*,/.test(l) ? [i] : []));
    const field = (i: number, text: string) => {
      const f = lines[i]!.split(',');
      f[5] = text;
      lines[i] = f.join(',');
    };
    field(starts[1]!, `"${'é"",\n'.repeat(1_500_000)}"`); // ~9 MB: a reject
    field(starts[Math.floor(starts.length / 3)]!, 'y'.repeat(390_000)); // an item just under the limit
    field(starts[Math.floor(starts.length / 2)]!, `"${'z'.repeat(3_000_000)}"`);
    const f = lines[starts.at(-3)!]!.split(',');
    f[1] = 'u'.repeat(3000); // user_id: not a uuid, and a partition key over 2048 bytes
    lines[starts.at(-3)!] = f.join(',');
    return lines.join('\n');
  });
  try {
    const unit = (await unitsOfRun(extract)).find((u) => u.mapping.table.name === 'chat_messages')!;
    const one = await unitFiles(store, run, extract, unit, false);
    t.false('error' in one, one.error);
    const record = JSON.parse((await run.getText(unitKey('chat_messages', 0)))!) as UnitRecord;
    t.true(record.part.rejected >= 3);
    t.deepEqual(await unitFiles(store, run, extract, unit, true), one);
  } finally {
    await remove();
  }
});

test('a table of the generic mapping (UNMAPPED=generic), with zstd and --drop-expired, gives a helped unit the same files', async (t) => {
  const { store, remove } = await inflatedRun('realistic', 17_000_000);
  const model = await ownModel((name, text) => (name === 'chat_messages.ts' ? undefined : text));
  try {
    for (const [table, key] of [['chat_messages', 'chat_messages'], ['audit_events', 'audit_events']]) {
      const files: string[] = [];
      for (const concurrency of [1, 2]) {
        const logs: string[] = [];
        await runTransform({
          store, run: 'run', tables: [table!], force: true, concurrency, gzipLevel: 1, compression: 'zstd', unmapped: 'generic', dropExpired: true, entities: model, log: (m) => logs.push(m),
        });
        t.is(logs.some((m) => m.includes('a helper thread builds')), concurrency === 2);
        const keys = [itemsKey(key!, 0, 'zstd'), rejectsKey(key!, 0), keysKey(key!, 0), unitKey(key!, 0)];
        files.push((await Promise.all(keys.map(async (k) => sha256Hex((await fileOf(store, k)) ?? Buffer.alloc(0))))).join(' '));
      }
      t.is(files[1], files[0], table);
    }
  } finally {
    await remove();
    await rm(model, { recursive: true, force: true });
  }
});

test('a read that fails while this thread waits on the helper for a batch with a bad row reports the row, as one thread does', async (t) => {
  // audit_events' first row is slow to build on the helper thread (its model's computed value waits 1.5 s there), and
  // its second lacks a field; the part's stream fails 0.3 s after it is opened (a connection reset), the batch not yet built.
  const slow = '51000000-0000-0000-0000-000000000000';
  const { store, run, extract, remove } = await inflatedRun('realistic', 4_000_000, (table, csv) => {
    if (table !== 'audit_events') return csv;
    const [header, first, ...rest] = csv.split('\n');
    const second = rest.findIndex((l) => /^[0-9a-f]{8}-/.test(l));
    rest[second] = rest[second]!.replace(/,[^,]*$/, '');
    return [header, first!.replace(/^[^,]*/, slow), ...rest].join('\n');
  });
  const model = await ownModel((name, text) => (name !== 'audit_events.ts' ? text : `import { isMainThread } from 'node:worker_threads';
${text.replace("audit_user: orElse('user_id_hash', 'ANONYMOUS'),", `audit_user: (row) => {
      if (!isMainThread && row('id') === '${slow}') for (const until = Date.now() + 1500; Date.now() < until;);
      return orElse('user_id_hash', 'ANONYMOUS')(row);
    },`)}`));
  try {
    const unit = (await mapTables(extract, 'fail', model)).flatMap((m) => (m.table.name === 'audit_events' ? unitsOf(m, extract, options, []) : []))[0]!;
    const gz = (await fileOf(store, unit.part.key))!;
    const failing = Object.create(run) as Storage;
    failing.get = async (key) => {
      if (key !== unit.part.key) return run.get(key);
      let at = 0;
      const stream = new Readable({ read() { if (at < gz.length) this.push(gz.subarray(at, at += 65536)); } });
      setTimeout(() => stream.destroy(new Error('connection reset')), 300);
      return stream;
    };
    const errors: string[] = [];
    for (const helped of [false, true]) {
      const bundle = workerBundle(model);
      const helper = helped ? new BuildHelper(bundle.entry, unitTask(bundle, { store, run: 'run', options }, unit, new Map())) : undefined;
      await opened(helper);
      errors.push(await transformUnit(failing, unit, extract, new Map(), options, () => {}, helper).then(() => 'none', (err: Error) => err.message).finally(() => helper?.close()));
    }
    t.regex(errors[0]!, /audit_events row 2: 16 fields where the manifest has 17 columns/);
    t.is(errors[1], errors[0]);
  } finally {
    await remove();
    await rm(model, { recursive: true, force: true });
  }
});

/** Replaces `table`'s only part with `text` (CSV with its header), its manifest entry to match. */
async function rewritePart(run: Storage, extract: ExtractManifest, table: string, text: string): Promise<void> {
  const entry = extract.tables.find((t) => t.name === table)!;
  const part = entry.parts[0]!;
  const bytes = Buffer.from(text);
  const gz = gzipSync(bytes, { level: 1 });
  await run.put(part.key, gz);
  const rows = text.split('\n').filter((l) => l !== '').length - 1;
  Object.assign(part, { rows, raw_bytes: bytes.length, raw_sha256: sha256Hex(bytes), bytes: gz.length, sha256: sha256Hex(gz) });
  Object.assign(entry, { rows, raw_bytes: bytes.length, bytes: gz.length });
  await run.put(EXTRACT_MANIFEST_KEY, manifestText(extract));
}

test('ttl edge values with --drop-expired, non-ASCII and astral keys, rejects among items, a table of rejects only and an empty one: a helped unit writes one thread\'s files', async (t) => {
  const ttls = ['1970-01-01 00:00:00+00', '1969-12-31 23:59:59.5+00', '1900-01-01 00:00:00+00', '', '2026-01-01 00:00:00+00',
    '2025-12-31 23:59:59.999999+00', '2026-01-01 00:00:00.000001+00', 'infinity', '-infinity', '1970-01-01 00:00:00.000001+00'];
  const keyTexts = ['é', '𝄞x', '\u{1F600}', 'Ω≈ç', 'plain'];
  const { store, run, extract, remove } = await inflatedRun('realistic', 3_000_000, (table, csv) => {
    if (table !== 'user_sessions') return csv;
    let n = 0;
    return csv.split('\n').map((l, i) => {
      const f = l.split(',');
      if (i === 0 || f.length !== 14) return l;
      n++;
      f[9] = ttls[n % ttls.length]!;
      f[3] = `${keyTexts[n % keyTexts.length]}${n}`;
      if (n % 7 === 0) f[1] = 'u'.repeat(3000); // a partition key over 2048 bytes: a reject
      return f.join(',');
    }).join('\n');
  });
  const dropping: UnitOptions = { ...options, dropExpired: true };
  try {
    const unit = (await unitsOfRun(extract)).find((u) => u.mapping.table.name === 'user_sessions')!;
    const one = await unitFiles(store, run, extract, unit, false, [], dropping);
    t.false('error' in one, one.error);
    const record = JSON.parse((await run.getText(unitKey('user_sessions', 0)))!) as UnitRecord;
    t.true(record.part.rejected > 0 && record.part.dropped > 0 && record.part.items > 0, JSON.stringify(record.part));
    const sent: number[] = [];
    t.deepEqual(await unitFiles(store, run, extract, unit, true, sent, dropping), one);
    t.true(sent[0]! > 0);
    // Every row a reject; then no row at all.
    const csv = gunzipSync((await fileOf(store, unit.part.key))!).toString('utf8');
    const [header, ...rows] = csv.split('\n');
    await rewritePart(run, extract, 'user_sessions', [header, ...rows.filter((l) => l !== '').map((l) => {
      const f = l.split(',');
      if (f.length === 14) f[1] = 'u'.repeat(3000);
      return f.join(',');
    })].join('\n') + '\n');
    const [rejectsOnly] = (await unitsOfRun(extract)).filter((u) => u.mapping.table.name === 'user_sessions');
    const allRejects = await unitFiles(store, run, extract, rejectsOnly!, false, [], dropping);
    t.false('error' in allRejects, allRejects.error);
    t.deepEqual(await unitFiles(store, run, extract, rejectsOnly!, true, [], dropping), allRejects);
    await rewritePart(run, extract, 'user_sessions', `${header}\n`);
    const [empty] = (await unitsOfRun(extract)).filter((u) => u.mapping.table.name === 'user_sessions');
    const none = await unitFiles(store, run, extract, empty!, false, [], dropping);
    t.false('error' in none, none.error);
    t.deepEqual(await unitFiles(store, run, extract, empty!, true, [], dropping), none);
  } finally {
    await remove();
  }
});
