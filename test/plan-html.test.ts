// plan.html opens in a real browser and its charts are drawn: Debian's
// headless chromium screenshots the page from a file:// URL (with networking
// off), and the PNG's pixels must show each chart's bar colours, the item
// bytes chart above the cost charts. Needs `apt-get install -y chromium`
// (or CHROMIUM=/path/to/chromium); no local stack.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { openStorage } from '../lib/storage.ts';
import { pricesFor, readPriceFile } from '../lib/cost-model.ts';
import { fixtureRun } from './fixture-run.ts';
import { makePlan } from '../plan/plan.ts';
import { CHART_COLOURS, renderHtml } from '../plan/render-html.ts';

interface Image { width: number; height: number; rgba: Buffer }

/** A PNG decoder for what chromium writes: 8-bit RGB or RGBA, not interlaced. */
function decodePng(png: Buffer): Image {
  if (!png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) throw new Error('not a PNG');
  let width = 0, height = 0, colourType = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8]!;
      colourType = data[9]!;
      if (depth !== 8 || (colourType !== 2 && colourType !== 6) || data[12] !== 0) throw new Error(`unsupported PNG: depth ${depth}, colour type ${colourType}, interlace ${data[12]}`);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    at += 12 + length;
  }
  const channels = colourType === 6 ? 4 : 3;
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(idat));
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      let value = line[x]!;
      if (filter === 1) value += a;
      else if (filter === 2) value += b;
      else if (filter === 3) value += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        value += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad PNG filter ${filter}`);
      pixels[y * stride + x] = value & 0xff;
    }
  }
  const rgba = Buffer.alloc(width * height * 4, 255);
  for (let i = 0; i < width * height; i++) pixels.copy(rgba, i * 4, i * channels, i * channels + 3);
  return { width, height, rgba };
}

interface Box { pixels: number; left: number; right: number; top: number; bottom: number }

/** Where pixels of one colour (± a little, for colour management) are in the image. */
function findColour(image: Image, hex: string): Box {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const box: Box = { pixels: 0, left: Infinity, right: -1, top: Infinity, bottom: -1 };
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const at = (y * image.width + x) * 4;
      if (Math.abs(image.rgba[at]! - r!) <= 3 && Math.abs(image.rgba[at + 1]! - g!) <= 3 && Math.abs(image.rgba[at + 2]! - b!) <= 3) {
        box.pixels++;
        box.left = Math.min(box.left, x); box.right = Math.max(box.right, x);
        box.top = Math.min(box.top, y); box.bottom = Math.max(box.bottom, y);
      }
    }
  }
  return box;
}

function chromiumBinary(): string | undefined {
  for (const candidate of [process.env.CHROMIUM, 'chromium', 'chromium-browser'].filter(Boolean) as string[]) {
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

/** Runs chromium headless on the page, networking off, in a fresh profile; resolves when it has written the PNG. */
function screenshot(binary: string, url: string, png: string, profile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`, `--screenshot=${png}`, '--window-size=1200,1600', url,
    ], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    // Our own child's process group only, and only if it hangs.
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 90_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`chromium exited ${code ?? signal}: ${output.slice(-2000)}`));
    });
  });
}

test('plan.html renders in headless chromium with both charts drawn', async (t) => {
  const binary = chromiumBinary();
  if (!binary) {
    t.fail("no chromium: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM=/path/to/chromium");
    return;
  }
  const fx = await fixtureRun();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-plan-html-'));
  try {
    const plan = await makePlan(openStorage(fx.store).sub(fx.run), {
      runId: fx.run, sample: 1, maxKeys: 1000, concurrency: 2, region: 'us-east-1',
      prices: pricesFor(readPriceFile(), 'us-east-1'),
      workload: { requests_per_day: 100_000, write_share: 0.2, current_monthly_usd: 142, pitr: true },
      log: () => {},
    });
    const page = path.join(dir, 'plan.html');
    await writeFile(page, renderHtml(plan));
    const png = path.join(dir, 'plan.png');
    await screenshot(binary, pathToFileURL(page).href, png, path.join(dir, 'profile'));
    const image = decodePng(await readFile(png));
    t.is(image.width, 1200);
    t.is(image.height, 1600);

    // Item bytes: one bar per table, the largest spanning most of the plot width.
    const bytes = findColour(image, CHART_COLOURS.itemBytes);
    t.true(bytes.pixels > 16 * 18 * 10, `item-bytes bars: ${bytes.pixels} pixels`);
    t.true(bytes.right - bytes.left > 400, `the largest item-bytes bar is wide: ${bytes.right - bytes.left} px`);
    t.true(bytes.bottom - bytes.top > 15 * 20, `16 bars stacked: ${bytes.bottom - bytes.top} px tall`);

    // Cost comparison: DMS (largest one-time) and the current monthly cost as long bars; the others visible.
    const dms = findColour(image, CHART_COLOURS.dms);
    const current = findColour(image, CHART_COLOURS.current);
    t.true(dms.right - dms.left > 400 && dms.pixels > 400 * 15, `DMS bar: ${JSON.stringify(dms)}`);
    t.true(current.right - current.left > 400 && current.pixels > 400 * 15, `current-cost bar: ${JSON.stringify(current)}`);
    for (const [name, colour] of Object.entries({ importTable: CHART_COLOURS.importTable, batchWrite: CHART_COLOURS.batchWrite, dynamodb: CHART_COLOURS.dynamodb })) {
      t.true(findColour(image, colour).pixels >= 2 * 15, `${name} bar drawn`);
    }
    // Order on the page: item bytes, then one-time, then monthly.
    t.true(bytes.bottom < dms.top && dms.bottom < current.top, 'charts in order');
  } finally {
    await rm(dir, { recursive: true, force: true });
    await fx.remove();
  }
});
