// ImportTable, DescribeImport and ListImports (API reference), over the
// imports this endpoint has started. ImportTable checks the request, honours
// the ClientToken as AWS was measured to (scylladb/scylladb
// test/alternator/test_import.py, point 1: see replayOf), creates the table in
// DynamoDB Local right away (so a table that exists is ResourceInUseException
// "Table already exists: …", and CreateTable's own validation applies),
// answers IN_PROGRESS, and leaves the data to import-job.ts.
import { randomBytes, randomUUID } from 'node:crypto';
import type { DynamoDbLocal } from './dynamodb-local.ts';
import { zstdAvailable } from './decompress.ts';
import { runImport, type JobContext } from './import-job.ts';
import { ImportRecord } from './import-record.ts';
import { checkImportTableRequest } from './import-request.ts';
import { IMPORT_LOG_GROUP } from './log-store.ts';
import { ApiError, validationError } from './protocol.ts';

type Json = Record<string, unknown>;

/** "A client token is valid for 8 hours after the first request that uses it is completed" (ImportTable, ClientToken). */
const TOKEN_WINDOW_MS = 8 * 60 * 60 * 1000;
const IMPORT_ARN = /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[a-zA-Z0-9_.-]{3,255}\/import\/[0-9]{14}-[0-9a-f]{8}$/;

/** `01658528578619-c4d4e311`: the start in epoch ms (14 digits) and 8 hex digits, as AWS forms import ids. */
function newImportId(now: number): string {
  return `${String(now).padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
}

/** ListImports' NextToken must match ([0-9a-f]{16})+ with at least 112 characters: the offset, hex, padded. */
function pageToken(offset: number): string {
  return offset.toString(16).padStart(112, '0');
}

/**
 * ImportTable replayed under a token that names `previous`. Measured on AWS
 * (test_import.py, point 1): only another TableName conflicts; another bucket,
 * prefix, format or compression silently gets the original import back, its
 * own source and all (so a caller must compare what it gets with what it asked).
 */
function replayOf(previous: ImportRecord, tableName: string): unknown {
  // The API model names ImportConflictException ("conflicts with a previous import request
  // that had the same client token"), and that is the name AWS answers with.
  if (previous.tableName !== tableName) throw new ApiError('ImportConflictException', 'Duplicate request detected with conflicting parameters');
  return { ImportTableDescription: previous.description() };
}

export class Imports {
  private readonly byArn = new Map<string, ImportRecord>();
  private readonly byToken = new Map<string, ImportRecord>();
  /** ImportTable calls run one at a time: a token or table name is claimed before the next call looks. */
  private serial: Promise<unknown> = Promise.resolve();

  constructor(private readonly ddb: DynamoDbLocal, private readonly job: JobContext) {}

  /** The import writing into `tableName` right now, if any (DescribeTable then says CREATING, as on AWS). */
  inProgressFor(tableName: string): ImportRecord | undefined {
    return [...this.byArn.values()].find((r) => r.status === 'IN_PROGRESS' && r.tableName === tableName);
  }

  handle(operation: string, body: Json): Promise<unknown> | undefined {
    switch (operation) {
      case 'ImportTable': {
        const next = this.serial.then(() => this.importTable(body));
        this.serial = next.catch(() => {});
        return next;
      }
      case 'DescribeImport': return Promise.resolve(this.describeImport(body));
      case 'ListImports': return Promise.resolve(this.listImports(body));
      default: return undefined;
    }
  }

  private async importTable(body: Json): Promise<unknown> {
    const request = checkImportTableRequest(body);
    // Measured on AWS: a request that really carries no token is refused; the SDKs always send one.
    if (!request.ClientToken) throw validationError("1 validation error detected: Value null at 'clientToken' failed to satisfy constraint: Member must not be null");
    if (request.InputFormat === 'ION') throw validationError('InputFormat ION is not supported by the local import endpoint: use DYNAMODB_JSON or CSV');
    if (request.InputCompressionType === 'ZSTD' && !zstdAvailable()) {
      throw validationError('InputCompressionType ZSTD needs the zstd program on PATH for the local import endpoint (apt-get install zstd); Node 20 has no zstd');
    }
    const tableName = request.TableCreationParameters.TableName;
    const previous = this.byToken.get(request.ClientToken);
    if (previous?.status === 'IN_PROGRESS') return replayOf(previous, tableName);
    if (previous && Date.now() - previous.endTime! < TOKEN_WINDOW_MS) {
      // Measured: once the import ended its table exists, and a replay is refused on that
      // ground before the token is consulted at all (test_import.py, point 1).
      if (await this.tableExists(tableName)) throw new ApiError('ResourceInUseException', `Table already exists: ${tableName}`);
      // Not measured: the import ended and left no table (an S3 failure, or the table was
      // deleted since). The reference keeps a token "valid for 8 hours after the first
      // request that uses it is completed", so the stricter reading is kept: the token
      // still names its import, and only another token starts a new one.
      return replayOf(previous, tableName);
    }

    let created: { TableDescription?: { TableArn?: string; TableId?: string } };
    try {
      created = await this.ddb.call('CreateTable', request.TableCreationParameters);
    } catch (err) {
      if (err instanceof ApiError && err.type === 'ResourceInUseException') throw new ApiError('ResourceInUseException', `Table already exists: ${tableName}`);
      throw err;
    }
    const now = Date.now();
    const id = newImportId(now);
    const tableArn = created.TableDescription?.TableArn ?? `arn:aws:dynamodb:ddblocal:000000000000:table/${tableName}`;
    const record = new ImportRecord(id, `${tableArn}/import/${id}`, tableArn, created.TableDescription?.TableId ?? randomUUID(),
      request.ClientToken, request, now);
    this.byArn.set(record.arn, record);
    this.byToken.set(request.ClientToken, record);
    this.job.logs.createGroup(IMPORT_LOG_GROUP);
    this.job.log(`import ${id} into ${tableName} started`);
    void runImport(record, this.job).catch((err: unknown) => {
      record.finish('FAILED', record.counts ?? { processed: 0, imported: 0, errors: 0, bytes: 0 }, { code: 'InternalServerError', message: (err as Error).message });
      this.job.log(`import ${id}: internal error: ${(err as Error).message}`);
    });
    return { ImportTableDescription: record.description() };
  }

  private async tableExists(tableName: string): Promise<boolean> {
    try {
      await this.ddb.call('DescribeTable', { TableName: tableName });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.type === 'ResourceNotFoundException') return false;
      throw err;
    }
  }

  private describeImport(body: Json): unknown {
    const arn = body.ImportArn;
    if (typeof arn !== 'string') throw validationError("1 validation error detected: Value null at 'importArn' failed to satisfy constraint: Member must not be null");
    if (arn.length < 37 || arn.length > 1024 || !IMPORT_ARN.test(arn)) throw validationError(`Invalid Import ARN: ${arn}`);
    const record = this.byArn.get(arn);
    if (!record) throw new ApiError('ImportNotFoundException', `Import not found: ${arn}`);
    return { ImportTableDescription: record.description() };
  }

  private listImports(body: Json): unknown {
    const pageSize = body.PageSize ?? 25;
    if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 25) {
      throw validationError(`1 validation error detected: Value '${String(pageSize)}' at 'pageSize' failed to satisfy constraint: Member must have value less than or equal to 25`);
    }
    let offset = 0;
    if (body.NextToken !== undefined) {
      const token = body.NextToken;
      if (typeof token !== 'string' || token.length < 112 || !/^([0-9a-f]{16})+$/.test(token)) throw validationError('Invalid NextToken');
      offset = parseInt(token, 16);
      if (!Number.isSafeInteger(offset)) throw validationError('Invalid NextToken');
    }
    const tableArn = typeof body.TableArn === 'string' ? body.TableArn : undefined;
    // Running imports are listed too (measured; the reference says "completed imports").
    const all = [...this.byArn.values()].filter((r) => !tableArn || r.tableArn === tableArn);
    if (offset > all.length) throw validationError('Invalid NextToken');
    const page = all.slice(offset, offset + pageSize);
    return {
      ImportSummaryList: page.map((r) => r.summary()),
      ...(offset + pageSize < all.length ? { NextToken: pageToken(offset + pageSize) } : {}),
    };
  }
}
