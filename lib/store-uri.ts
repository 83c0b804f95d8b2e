// What a STORE names, parsed strictly before any stage touches it: an S3
// bucket and prefix, or a local directory. Every stage and `make iam-policy`
// parse it here, so each refuses the same stores in the same words.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError, errorMessage } from './errors.ts';
import { TEMP_DIR } from './temp-files.ts';

export type StoreLocation = { kind: 's3'; bucket: string; prefix: string } | { kind: 'file'; dir: string };

/** Rejects keys that could escape the root or land in the temp directory. */
export function checkKey(key: string): string {
  const segments = key.split('/');
  if (!key || key.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..' || s === TEMP_DIR || s.includes('\0'))) {
    throw new UserError(`invalid storage key ${JSON.stringify(key)}: keys are relative paths without empty, '.', '..' or '${TEMP_DIR}' segments`);
  }
  return key;
}

/**
 * `s3://bucket/prefix`, `file:///abs/dir` (or `file://localhost/abs/dir`,
 * percent-encoded as a file URI is), or a directory path, relative or absolute.
 */
export function parseStoreUri(uri: string): StoreLocation {
  if (uri.startsWith('s3://')) return parseS3(uri);
  if (/^file:/i.test(uri)) return { kind: 'file', dir: parseFileUri(uri) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new UserError(`unsupported storage URI ${uri}: use s3://bucket/prefix, file:///dir or a directory`);
  }
  return { kind: 'file', dir: path.resolve(uri) };
}

function parseS3(uri: string): StoreLocation {
  const rest = uri.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new UserError(`invalid S3 bucket name in ${uri}`);
  // An IAM policy for `<prefix>/<run>/*` would match every key the wildcard or variable matches.
  const wildcard = /[*?]|\$\{/.exec(prefix)?.[0];
  if (wildcard) {
    throw new UserError(`invalid STORE ${JSON.stringify(uri)}: its prefix holds ${JSON.stringify(wildcard)}, which IAM reads as ${wildcard === '${' ? 'a policy variable' : 'a wildcard'} (* and ? match any characters, \${…} is a policy variable), so its policy would grant more than this store; use a prefix without *, ? or \${`);
  }
  if (prefix) checkKey(prefix);
  return { kind: 's3', bucket, prefix };
}

/** file:///abs only (or localhost): a host, a query or a fragment would be silently dropped, so each is refused. */
function parseFileUri(uri: string): string {
  const fix = 'write file:///absolute/dir (three slashes), or give the directory as a plain path';
  const m = /^file:\/\/([^/]*)(\/.*)?$/i.exec(uri);
  if (!m) throw new UserError(`invalid STORE ${JSON.stringify(uri)}: a file URI is file:///absolute/dir; ${fix}`);
  const [, host, rest] = m;
  if (host !== '' && host!.toLowerCase() !== 'localhost') {
    throw new UserError(`invalid STORE ${JSON.stringify(uri)}: it names host ${JSON.stringify(host)}, and pg2ddb writes only local files; ${fix}`);
  }
  const dropped = /[?#]/.exec(rest ?? '')?.[0];
  if (dropped) {
    throw new UserError(`invalid STORE ${JSON.stringify(uri)}: a file URI ends its path at ${JSON.stringify(dropped)} (${dropped === '?' ? 'a query' : 'a fragment'}); percent-encode it (${dropped === '?' ? '%3F' : '%23'}) or give the directory as a plain path`);
  }
  if (!rest) throw new UserError(`invalid STORE ${JSON.stringify(uri)}: no directory; ${fix}`);
  try {
    return fileURLToPath(`file://${rest}`);
  } catch (err) {
    // Bad percent-encoding, an encoded '/' or NUL.
    throw new UserError(`invalid STORE ${JSON.stringify(uri)}: ${errorMessage(err)}; ${fix}`);
  }
}
