// Loads the fixture data set (fixtures/load.ts) into a database, for `up` and
// for test/stack.ts's freshDatabase().
export interface FixtureOptions {
  seed?: number;
  scale?: number;
  onProgress?: (table: string, rows: number) => void;
}
export type TableRows = { table: string; rows: number }[];
type LoadFixtureDatabase = (databaseUrl: string, opts?: FixtureOptions) => Promise<TableRows>;

// TODO(stack): import { loadFixtureDatabase } from '../../fixtures/load.ts' statically
// once it lands; until then a missing module means "no fixture data yet".
const fixtureModule = new URL('../../fixtures/load.ts', import.meta.url);

export async function loadFixtures(databaseUrl: string, opts: FixtureOptions = {}): Promise<TableRows | undefined> {
  let load: LoadFixtureDatabase;
  try {
    ({ loadFixtureDatabase: load } = (await import(fixtureModule.href)) as { loadFixtureDatabase: LoadFixtureDatabase });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { url?: string };
    if (e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('fixtures/load.ts')) return undefined;
    throw err;
  }
  return load(databaseUrl, opts);
}

/** SCALE from the environment: unset means the small fixture. */
export function scaleFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (!env.SCALE) return undefined;
  const scale = Number(env.SCALE);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`invalid SCALE=${JSON.stringify(env.SCALE)}: use a positive number`);
  return scale;
}
