// The one storage abstraction: a root URI (`s3://bucket/prefix`, `file:///dir`
// or a plain directory) under which stages read and write objects by key.
// An object appears under its final key only when complete (DESIGN.md
// "Storage"): locally a temp file is fsynced and renamed; on S3 a PUT or a
// multipart upload completes atomically, and an aborted one leaves nothing.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { s3Client, s3Encryption, type S3Encryption } from './aws.ts';
import { UserError, errorMessage } from './errors.ts';
import { debug } from './log.ts';
import { Meter } from './meter.ts';
import { ObjectChangedError, resumingBody, type BodyPart } from './s3-body.ts';
import { checkKey, parseStoreUri } from './store-uri.ts';
import { TEMP_DIR, isStaleTemp, tempName } from './temp-files.ts';

export interface PutResult { bytes: number; sha256: string }
export interface ObjectInfo { key: string; bytes: number }

export interface Storage {
  /** The root as a URI, for messages (holds no secrets). */
  readonly uri: string;
  /** A storage rooted at `<this root>/<prefix>`. */
  sub(prefix: string): Storage;
  /** Stores `body` under `key`, published only once all of it is written. */
  put(key: string, body: Readable | string | Buffer): Promise<PutResult>;
  get(key: string): Promise<Readable>;
  /**
   * Bytes `start` to `end` (exclusive) of the object, read whole (fewer where it ends
   * first; `start` within it). Unlike `get`'s stream, it holds no connection or file
   * once it returns: a reader of many objects at once (the duplicate-key merge) reads them by ranges.
   */
  getRange(key: string, start: number, end: number): Promise<Buffer>;
  /** The object's text, or undefined when there is no such object. */
  getText(key: string): Promise<string | undefined>;
  /** Every complete object under `prefix`, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
  /**
   * Removes what killed writers left (never listed, never complete): local
   * temp files whose writer is provably gone (lib/temp-files.ts). Returns how many.
   */
  removeLeftovers(): Promise<number>;
}

/** `env` gives the S3 endpoint, credentials and encryption (S3_SSE, S3_SSE_KMS_KEY_ID); tests pass their own. */
export function openStorage(uri: string, env: NodeJS.ProcessEnv = process.env): Storage {
  const location = parseStoreUri(uri);
  if (location.kind === 's3') return new S3Storage(s3Client(env), location.bucket, location.prefix, s3Encryption(env));
  return new FileStorage(location.dir);
}

class FileStorage implements Storage {
  /**
   * Temp files go to `<run>/.tmp/` (the store opened, then `sub(run)`): never
   * beside their object, where an items/ upload or import would take them, and
   * on the run's file system, so the rename into place stays atomic.
   */
  constructor(private readonly root: string, private readonly tempDir = path.join(root, TEMP_DIR), private readonly isStore = true) {}

  get uri(): string { return `file://${this.root}`; }

  sub(prefix: string): Storage {
    const root = path.join(this.root, checkKey(prefix));
    return new FileStorage(root, this.isStore ? path.join(root, TEMP_DIR) : this.tempDir, false);
  }

  private file(key: string): string { return path.join(this.root, checkKey(key)); }

  async put(key: string, body: Readable | string | Buffer): Promise<PutResult> {
    const target = this.file(key);
    const temp = path.join(this.tempDir, tempName());
    const meter = new Meter();
    try {
      await makeDir(path.dirname(target));
      await makeDir(this.tempDir);
      const source = typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body;
      await pipeline(source, meter, createWriteStream(temp));
      const handle = await open(temp, 'r');
      try { await handle.sync(); } finally { await handle.close(); }
      await rename(temp, target);
      await syncDir(path.dirname(target));
    } catch (err) {
      // A body the failed write never read must not keep its producer waiting.
      if (body instanceof Readable) body.destroy();
      await rm(temp, { force: true }).catch(() => {});
      throw new UserError(`cannot write ${this.uri}/${key}: ${describeFsError(err)}${writeFix(err, this.root)}`);
    }
    debug(`wrote ${this.uri}/${key} (${meter.bytes} bytes)`);
    return { bytes: meter.bytes, sha256: meter.sha256 };
  }

  async get(key: string): Promise<Readable> {
    const file = this.file(key);
    await stat(file).catch((err) => { throw new UserError(`cannot read ${this.uri}/${key}: ${describeFsError(err)}`); });
    return createReadStream(file);
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(Math.max(end - start, 0));
    let done = 0;
    try {
      const handle = await open(this.file(key), 'r');
      try {
        while (done < out.length) {
          const { bytesRead } = await handle.read(out, done, out.length - done, start + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw new UserError(`cannot read ${this.uri}/${key}: ${describeFsError(err)}`);
    }
    return out.subarray(0, done);
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.file(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new UserError(`cannot read ${this.uri}/${key}: ${describeFsError(err)}`);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const base = prefix ? this.file(prefix) : this.root;
    const out: ObjectInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) { if (full !== this.tempDir) await walk(full); }
        else if (entry.isFile()) {
          out.push({ key: path.relative(this.root, full).split(path.sep).join('/'), bytes: (await stat(full)).size });
        }
      }
    };
    await walk(base);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  async removeLeftovers(): Promise<number> {
    const entries = await readdir(this.tempDir, { withFileTypes: true }).catch(() => []);
    let removed = 0;
    for (const entry of entries) {
      const file = path.join(this.tempDir, entry.name);
      const info = entry.isFile() ? await stat(file).catch(() => undefined) : undefined;
      if (!info || !isStaleTemp(entry.name, info.mtimeMs)) continue;
      await rm(file, { force: true });
      removed++;
    }
    return removed;
  }
}

/**
 * mkdir -p, one level at a time: Node's `mkdir({ recursive: true })` reports
 * ENOENT where a parent is read-only (EROFS) or not writable, and on a
 * file system that refuses new entries (/proc) it spins at full CPU forever
 * (measured on Node 20.20). Each level's own error is the real cause.
 */
async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || path.dirname(dir) === dir) throw err;
    await makeDir(path.dirname(dir));
    await mkdir(dir).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
  }
}

/**
 * `--out DIR` of plan and report: writes `files` (name → text) into a local
 * directory, made one level at a time like the store's, so a path that cannot
 * be made (under /proc, read-only) fails naming it instead of spinning.
 */
export async function writeLocalCopy(dir: string, files: Record<string, string>): Promise<void> {
  try {
    await makeDir(path.resolve(dir));
  } catch (err) {
    throw new UserError(`cannot create --out directory ${path.resolve(dir)}: ${describeFsError(err)}`);
  }
  for (const [name, text] of Object.entries(files)) {
    const file = path.resolve(dir, name);
    await writeFile(file, text).catch((err: unknown) => { throw new UserError(`cannot write ${file}: ${describeFsError(err)}`); });
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try { await handle.sync(); } finally { await handle.close(); }
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    EPERM: 'operation not permitted',
    ENOTDIR: 'a path component is not a directory',
    EISDIR: 'is a directory',
  };
  return code && known[code] ? `${known[code]} (${code})` : errorMessage(err);
}

/** What to do about a failed local write, when the cause is the file system's state. */
function writeFix(err: unknown, dir: string): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOSPC': case 'EDQUOT': return `: free space on the file system of ${dir} and rerun`;
    case 'EROFS': case 'EACCES': case 'EPERM': return `: make ${dir} writable and rerun`;
    default: return '';
  }
}

/** A stream's bytes, once it has ended (its error, if it fails). */
async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The first `bytes` of `source` (a server that ignores Range sends the whole object); the rest is not read. */
async function* upTo(source: Readable, bytes: number): AsyncGenerator<Buffer> {
  let left = bytes;
  try {
    for await (const chunk of source) {
      const take = (chunk as Buffer).subarray(0, left);
      left -= take.length;
      if (take.length) yield take;
      if (left <= 0) return;
    }
  } finally {
    source.destroy();
  }
}

/** Multipart part size: 8 MiB parts, two in flight, bound an upload's memory. */
const PART_SIZE = 8 * 1024 * 1024;

class S3Storage implements Storage {
  private bucketChecked = false;
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    /** Applied to every object written: put() is the only way an object is made. */
    private readonly encryption: S3Encryption,
  ) {}

  get uri(): string { return `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`; }

  sub(prefix: string): Storage {
    return new S3Storage(this.client, this.bucket, this.objectKey(prefix), this.encryption);
  }

  private objectKey(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private fail(action: string, key: string, err: unknown): UserError {
    if (err instanceof UserError) return err;
    const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const reason = e.name && e.name !== 'Error' ? `${e.name}${e.message && e.message !== e.name ? `: ${e.message}` : ''}` : e.code ?? errorMessage(err);
    return new UserError(`cannot ${action} s3://${this.bucket}/${this.objectKey(key)}: ${reason}`);
  }

  /** A missing bucket fails once, clearly, before any upload starts. */
  private async checkBucket(key: string): Promise<void> {
    if (this.bucketChecked) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) throw new UserError(`cannot write s3://${this.bucket}/${this.objectKey(key)}: bucket ${this.bucket} does not exist`);
      if (status === 403) throw new UserError(`cannot write s3://${this.bucket}/${this.objectKey(key)}: access denied to bucket ${this.bucket}`);
      throw this.fail('write', key, err);
    }
    this.bucketChecked = true;
  }

  async put(key: string, body: Readable | string | Buffer): Promise<PutResult> {
    await this.checkBucket(key);
    const meter = new Meter();
    const source = typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body;
    const upload = new Upload({
      client: this.client,
      // A single PutObject, or CreateMultipartUpload for a larger body, carries the encryption;
      // the parts inherit it (S3 takes SSE headers on UploadPart for SSE-C keys only).
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: meter, ...this.encryption },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    });
    // Feed the upload through the meter; an error on either side fails both.
    const feeding = pipeline(source, meter);
    try {
      await Promise.all([upload.done(), feeding]);
    } catch (err) {
      source.destroy();
      await upload.abort().catch(() => {});
      throw this.fail('write', key, err);
    }
    debug(`wrote ${this.uri}/${key} (${meter.bytes} bytes)`);
    return { bytes: meter.bytes, sha256: meter.sha256 };
  }

  /** The object's bytes, resumed where a connection breaks (lib/s3-body.ts). */
  async get(key: string): Promise<Readable> {
    try {
      return await this.read(key, 0) as Readable;
    } catch (err) {
      throw this.fail('read', key, err);
    }
  }

  /**
   * Bytes `start` to `end` (exclusive; the object's end when undefined) as a stream
   * resumed where a connection breaks. The first GetObject's error is thrown as it
   * is (getText tells NoSuchKey from the rest).
   */
  private async read(key: string, start: number, end?: number): Promise<AsyncIterable<Buffer>> {
    const name = `s3://${this.bucket}/${this.objectKey(key)}`;
    const open = async (from: number, etag?: string): Promise<BodyPart> => {
      const first = start + from;
      const ranged = first > 0 || end !== undefined;
      const range = ranged ? { Range: `bytes=${first}-${end === undefined ? '' : end - 1}`, ...(etag ? { IfMatch: etag } : {}) } : {};
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), ...range }));
      // Where the response starts, counted from `start`: a ranged GET answered without
      // Content-Range is a whole-object 200 (the server ignored Range).
      const at = ranged ? Number(/^bytes (\d+)-/.exec(out.ContentRange ?? '')?.[1] ?? 0) - start : undefined;
      return { body: out.Body as Readable, etag: out.ETag, length: out.ContentLength, start: at };
    };
    const body = resumingBody(await open(0), async (from, etag) => {
      try {
        return await open(from, etag);
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'PreconditionFailed' || e.$metadata?.httpStatusCode === 412) throw new ObjectChangedError(`${name} changed while it was read (it no longer has ETag ${etag})`);
        throw err;
      }
    }, name);
    return end === undefined ? body : upTo(body, end - start);
  }

  /** Read through get's resuming stream: a range of megabytes must survive a break as a part does. */
  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    try {
      return await collect(await this.read(key, start, end));
    } catch (err) {
      throw this.fail('read', key, err);
    }
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      return (await collect(await this.read(key, 0))).toString('utf8');
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw this.fail('read', key, err);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const full = prefix ? `${this.objectKey(prefix)}/` : this.prefix ? `${this.prefix}/` : '';
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ContinuationToken: token }));
        for (const o of page.Contents ?? []) out.push({ key: o.Key!.slice(strip), bytes: o.Size ?? 0 });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.fail('list', prefix, err);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * An S3 upload is either complete or invisible; the parts of a multipart
   * upload a killed process never finished are left to the bucket's lifecycle
   * rule (AbortIncompleteMultipartUpload).
   */
  async removeLeftovers(): Promise<number> {
    return 0;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      throw this.fail('delete', key, err);
    }
  }
}
