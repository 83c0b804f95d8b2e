// s3rver's own command line, after closing a race in its filesystem store
// (s3rver 3.7.1). DeleteObject removes the key's directories once they are
// empty; a PutObject into the same directory that has made it but not yet
// opened its file then opens into a removed directory, and the ENOENT is
// emitted on a write stream with no 'error' listener: an uncaught exception
// that ends the server, and every later S3 call fails with ECONNREFUSED (a CI
// run lost 17 tests this way; two writers of one run's .tmp/ are enough).
// S3 has no directories: an empty one holds no key and no listing shows it,
// so the delete here removes the object's files and leaves directories be.
'use strict';
const fs = require('node:fs/promises');
const FilesystemStore = require('s3rver/lib/stores/filesystem');

FilesystemStore.prototype.deleteObject = async function deleteObject(bucket, key) {
  await Promise.all(['object', 'object.md5', 'metadata.json'].map((resource) =>
    fs.unlink(this.getResourcePath(bucket, key, resource)).catch((err) => {
      if (err.code !== 'ENOENT') throw err;
    })));
};

require('s3rver/bin/s3rver.js');
