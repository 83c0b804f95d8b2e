// make scaffold MODEL=dir: a starting entity file per table of the source
// catalog (DATABASE_URL or PG*, SCHEMAS like extract) into dir, for a model of
// one's own. Files already there are kept (they may hold edits).
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UserError } from '../lib/errors.ts';
import { logger, runCli } from '../lib/log.ts';
import { connect, pinSettings, VALUE_TEXT_SETTINGS } from '../lib/postgres.ts';
import { listSourceTables, readCatalog } from '../extract/catalog.ts';
import { entityFileName, entityFileText } from '../model/scaffold.ts';

const ENTITY_MODULE = fileURLToPath(new URL('../model/entity.ts', import.meta.url));

export async function scaffold(databaseUrl: string | undefined, dir: string, schemas: string[], log: (line: string) => void): Promise<string[]> {
  const client = await connect(databaseUrl, 'pg2ddb-scaffold');
  try {
    // format_type() names types as the extract manifest will (search_path pinned).
    await pinSettings(client, VALUE_TEXT_SETTINGS);
    const tables = await readCatalog(client, await listSourceTables(client, schemas));
    if (tables.length === 0) throw new UserError(`no tables in schema(s) ${schemas.join(', ')}: nothing to scaffold`);
    await mkdir(dir, { recursive: true });
    // Entity files are ES modules wherever the directory is.
    const pkg = path.join(dir, 'package.json');
    if (!existsSync(pkg)) await writeFile(pkg, '{ "type": "module" }\n');
    const written: string[] = [];
    for (const table of tables) {
      const file = path.join(dir, entityFileName(table.name));
      if (existsSync(file)) {
        log(`kept ${file} (already there)`);
        continue;
      }
      await writeFile(file, entityFileText(table, ENTITY_MODULE));
      written.push(file);
    }
    log(`wrote ${written.length} entity file(s) to ${dir}: edit them, then make transform MODEL=${dir}`);
    return written;
  } finally {
    await client.end().catch(() => {});
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runCli('scaffold', async () => {
    const dir = process.env.MODEL;
    if (!dir) throw new UserError('MODEL is not set: make scaffold MODEL=dir names the directory to write entity files into', 2);
    const schemas = (process.env.SCHEMAS || 'public').split(',').map((s) => s.trim()).filter(Boolean);
    await scaffold(process.env.DATABASE_URL || undefined, path.resolve(dir), schemas, logger('scaffold'));
  });
}
