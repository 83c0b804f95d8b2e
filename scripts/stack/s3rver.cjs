// s3rver's own command line, after closing two flaws of its filesystem store
// (s3rver 3.7.1) that concurrent tests hit:
// - DeleteObject removes the key's directories once empty; a PutObject into
//   the same directory that has made it but not yet opened its file then opens
//   into a removed directory, and the ENOENT is emitted on a write stream with
//   no 'error' listener: an uncaught exception that ends the server, and every
//   later S3 call fails with ECONNREFUSED (a CI run lost 17 tests this way; two
//   writers of one run's .tmp/ are enough). S3 has no directories: an empty one
//   holds no key and no listing shows it, so deletes here leave them be.
// - PutObject and UploadPart answer once the body has been read, not once the
//   file is written, and a failed write (an aborted multipart upload removing
//   its directory under a part) ends the server the same way. Here the answer
//   waits for the file, and a failed write fails that request only.
'use strict';
const crypto = require('node:crypto');
const { createWriteStream } = require('node:fs');
const fs = require('node:fs/promises');
const path = require('node:path');
const { Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const FilesystemStore = require('s3rver/lib/stores/filesystem');

/** Writes `content` (a Buffer or a stream) to `file`; resolves to [size, md5 hex] once it is on disk. */
async function writeContent(content, file) {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const md5 = crypto.createHash('md5');
  if (Buffer.isBuffer(content)) {
    await fs.writeFile(file, content);
    return [content.length, md5.update(content).digest('hex')];
  }
  let size = 0;
  const count = new Transform({
    transform(chunk, _encoding, callback) {
      md5.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  await pipeline(content, count, createWriteStream(file));
  return [size, md5.digest('hex')];
}

FilesystemStore.prototype.putObject = async function putObject(object) {
  const [size, md5] = await writeContent(object.content, this.getResourcePath(object.bucket, object.key, 'object'));
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
};

FilesystemStore.prototype.putPart = async function putPart(bucket, uploadId, partNumber, content) {
  const partPath = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, partNumber.toString());
  const [size, md5] = await writeContent(content, partPath);
  await fs.writeFile(`${partPath}.md5`, md5);
  return { size, md5 };
};

FilesystemStore.prototype.deleteObject = async function deleteObject(bucket, key) {
  await Promise.all(['object', 'object.md5', 'metadata.json'].map((resource) =>
    fs.unlink(this.getResourcePath(bucket, key, resource)).catch((err) => {
      if (err.code !== 'ENOENT') throw err;
    })));
};

require('s3rver/bin/s3rver.js');
