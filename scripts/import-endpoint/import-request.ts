// ImportTable's request, checked as the API reference constrains it (the
// "Request Parameters" of ImportTable, S3BucketSource, InputFormatOptions,
// TableCreationParameters) and answered with the same error types: member
// constraints are collected into one ValidationException worded the way
// DynamoDB words them ("1 validation error detected: Value … at '…' failed to
// satisfy constraint: …"); the key schema against the attribute definitions
// is checked the way CreateTable checks it. The table name is checked
// against existing tables elsewhere (ResourceInUseException).
import { validationError } from './protocol.ts';

export type InputFormat = 'DYNAMODB_JSON' | 'ION' | 'CSV';
export type Compression = 'GZIP' | 'ZSTD' | 'NONE';

export interface KeySchemaElement { AttributeName: string; KeyType: 'HASH' | 'RANGE' }
export interface AttributeDefinition { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }
export interface GlobalSecondaryIndex { IndexName: string; KeySchema: KeySchemaElement[]; Projection: Record<string, unknown>; [more: string]: unknown }

export interface TableCreationParameters {
  TableName: string;
  AttributeDefinitions: AttributeDefinition[];
  KeySchema: KeySchemaElement[];
  BillingMode?: 'PROVISIONED' | 'PAY_PER_REQUEST';
  GlobalSecondaryIndexes?: GlobalSecondaryIndex[];
  [more: string]: unknown;
}

export interface S3BucketSource { S3Bucket: string; S3BucketOwner?: string; S3KeyPrefix?: string }
export interface CsvOptions { Delimiter?: string; HeaderList?: string[] }

export interface ImportTableRequest {
  ClientToken?: string;
  S3BucketSource: S3BucketSource;
  InputFormat: InputFormat;
  InputFormatOptions?: { Csv?: CsvOptions };
  InputCompressionType?: Compression;
  TableCreationParameters: TableCreationParameters;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

class Violations {
  readonly list: string[] = [];
  add(path: string, value: unknown, constraint: string): void {
    const shown = value === undefined || value === null ? 'null' : typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
    this.list.push(`Value ${shown} at '${path}' failed to satisfy constraint: ${constraint}`);
  }
  required(obj: Json, key: string, path: string): boolean {
    if (obj[key] === undefined || obj[key] === null) { this.add(path, undefined, 'Member must not be null'); return false; }
    return true;
  }
  string(value: unknown, path: string, opts: { min?: number; max?: number; pattern?: RegExp; patternText?: string; enum?: readonly string[] } = {}): void {
    if (value === undefined || value === null) return;
    if (typeof value !== 'string') { this.add(path, value, 'Member must be a string'); return; }
    if (opts.enum && !opts.enum.includes(value)) this.add(path, value, `Member must satisfy enum value set: [${opts.enum.join(', ')}]`);
    if (opts.min !== undefined && value.length < opts.min) this.add(path, value, `Member must have length greater than or equal to ${opts.min}`);
    if (opts.max !== undefined && value.length > opts.max) this.add(path, value, `Member must have length less than or equal to ${opts.max}`);
    if (opts.pattern && !opts.pattern.test(value)) this.add(path, value, `Member must satisfy regular expression pattern: ${opts.patternText ?? opts.pattern.source}`);
  }
  list_(value: unknown, path: string, opts: { min?: number; max?: number } = {}): value is unknown[] {
    if (value === undefined || value === null) return false;
    if (!Array.isArray(value)) { this.add(path, value, 'Member must be a list'); return false; }
    if (opts.min !== undefined && value.length < opts.min) this.add(path, value.length, `Member must have length greater than or equal to ${opts.min}`);
    if (opts.max !== undefined && value.length > opts.max) this.add(path, value.length, `Member must have length less than or equal to ${opts.max}`);
    return true;
  }
  throwIfAny(): void {
    const n = this.list.length;
    if (n > 0) throw validationError(`${n} validation error${n > 1 ? 's' : ''} detected: ${this.list.join('; ')}`);
  }
}

const TABLE_NAME = { min: 3, max: 255, pattern: /^[a-zA-Z0-9_.-]+$/, patternText: '[a-zA-Z0-9_.-]+' };
const ATTRIBUTE_NAME = { min: 1, max: 255 };

function checkKeySchema(v: Violations, value: unknown, path: string): void {
  if (!v.list_(value, path, { min: 1, max: 2 })) return;
  value.forEach((element, i) => {
    const at = `${path}.${i + 1}.member`;
    if (!isObject(element)) { v.add(at, element, 'Member must be a structure'); return; }
    if (v.required(element, 'AttributeName', `${at}.attributeName`)) v.string(element.AttributeName, `${at}.attributeName`, ATTRIBUTE_NAME);
    if (v.required(element, 'KeyType', `${at}.keyType`)) v.string(element.KeyType, `${at}.keyType`, { enum: ['HASH', 'RANGE'] });
  });
}

/** Throws the ValidationException DynamoDB would answer, or returns the request typed. */
export function checkImportTableRequest(body: Json): ImportTableRequest {
  const v = new Violations();
  v.string(body.ClientToken, 'clientToken', { pattern: /^[^$]+$/, patternText: '^[^\\$]+$' });

  if (v.required(body, 'S3BucketSource', 's3BucketSource')) {
    const source = body.S3BucketSource;
    if (!isObject(source)) v.add('s3BucketSource', source, 'Member must be a structure');
    else {
      if (v.required(source, 'S3Bucket', 's3BucketSource.s3Bucket')) {
        v.string(source.S3Bucket, 's3BucketSource.s3Bucket', { max: 255, pattern: /^[a-z0-9A-Z]+[.\-\w]*[a-z0-9A-Z]+$/, patternText: '^[a-z0-9A-Z]+[\\.\\-\\w]*[a-z0-9A-Z]+$' });
      }
      v.string(source.S3BucketOwner, 's3BucketSource.s3BucketOwner', { pattern: /^[0-9]{12}$/, patternText: '[0-9]{12}' });
      v.string(source.S3KeyPrefix, 's3BucketSource.s3KeyPrefix', { max: 1024 });
    }
  }

  if (v.required(body, 'InputFormat', 'inputFormat')) v.string(body.InputFormat, 'inputFormat', { enum: ['DYNAMODB_JSON', 'ION', 'CSV'] });
  v.string(body.InputCompressionType, 'inputCompressionType', { enum: ['GZIP', 'ZSTD', 'NONE'] });

  if (body.InputFormatOptions !== undefined) {
    const options = body.InputFormatOptions;
    if (!isObject(options)) v.add('inputFormatOptions', options, 'Member must be a structure');
    else if (options.Csv !== undefined) {
      const csv = options.Csv;
      if (!isObject(csv)) v.add('inputFormatOptions.csv', csv, 'Member must be a structure');
      else {
        v.string(csv.Delimiter, 'inputFormatOptions.csv.delimiter', { min: 1, max: 1, pattern: /^[,;:|\t ]$/, patternText: '[,;:|\\t ]' });
        if (v.list_(csv.HeaderList, 'inputFormatOptions.csv.headerList', { min: 1, max: 255 })) {
          (csv.HeaderList as unknown[]).forEach((h, i) => v.string(h, `inputFormatOptions.csv.headerList.${i + 1}.member`, { min: 1, max: 65536, pattern: /^[\x20-\x21\x23-\x2B\x2D-\x7E]*$/, patternText: '[\\x20-\\x21\\x23-\\x2B\\x2D-\\x7E]*' }));
        }
      }
    }
  }

  if (v.required(body, 'TableCreationParameters', 'tableCreationParameters')) {
    const table = body.TableCreationParameters;
    if (!isObject(table)) v.add('tableCreationParameters', table, 'Member must be a structure');
    else {
      if (v.required(table, 'TableName', 'tableCreationParameters.tableName')) v.string(table.TableName, 'tableCreationParameters.tableName', TABLE_NAME);
      if (v.required(table, 'AttributeDefinitions', 'tableCreationParameters.attributeDefinitions')
        && v.list_(table.AttributeDefinitions, 'tableCreationParameters.attributeDefinitions')) {
        (table.AttributeDefinitions as unknown[]).forEach((def, i) => {
          const at = `tableCreationParameters.attributeDefinitions.${i + 1}.member`;
          if (!isObject(def)) { v.add(at, def, 'Member must be a structure'); return; }
          if (v.required(def, 'AttributeName', `${at}.attributeName`)) v.string(def.AttributeName, `${at}.attributeName`, ATTRIBUTE_NAME);
          if (v.required(def, 'AttributeType', `${at}.attributeType`)) v.string(def.AttributeType, `${at}.attributeType`, { enum: ['S', 'N', 'B'] });
        });
      }
      if (v.required(table, 'KeySchema', 'tableCreationParameters.keySchema')) checkKeySchema(v, table.KeySchema, 'tableCreationParameters.keySchema');
      v.string(table.BillingMode, 'tableCreationParameters.billingMode', { enum: ['PROVISIONED', 'PAY_PER_REQUEST'] });
      if (table.GlobalSecondaryIndexes !== undefined && v.list_(table.GlobalSecondaryIndexes, 'tableCreationParameters.globalSecondaryIndexes')) {
        (table.GlobalSecondaryIndexes as unknown[]).forEach((gsi, i) => {
          const at = `tableCreationParameters.globalSecondaryIndexes.${i + 1}.member`;
          if (!isObject(gsi)) { v.add(at, gsi, 'Member must be a structure'); return; }
          if (v.required(gsi, 'IndexName', `${at}.indexName`)) v.string(gsi.IndexName, `${at}.indexName`, TABLE_NAME);
          if (v.required(gsi, 'KeySchema', `${at}.keySchema`)) checkKeySchema(v, gsi.KeySchema, `${at}.keySchema`);
          if (v.required(gsi, 'Projection', `${at}.projection`)) {
            const projection = gsi.Projection;
            if (!isObject(projection)) v.add(`${at}.projection`, projection, 'Member must be a structure');
            else v.string(projection.ProjectionType, `${at}.projection.projectionType`, { enum: ['ALL', 'KEYS_ONLY', 'INCLUDE'] });
          }
        });
      }
    }
  }
  v.throwIfAny();
  const request = body as unknown as ImportTableRequest;
  checkTableDefinition(request.TableCreationParameters);
  checkFormatOptions(request);
  return request;
}

const invalid = (detail: string) => validationError(`One or more parameter values were invalid: ${detail}`);

/** CreateTable's semantic checks: key order, every key attribute defined, every definition used, billing. */
function checkTableDefinition(table: TableCreationParameters): void {
  const keyOrder = (schema: KeySchemaElement[], where: string) => {
    if (schema[0]!.KeyType !== 'HASH') throw invalid(`Invalid KeySchema: The first KeySchemaElement is not a HASH key type${where}`);
    if (schema[1] && schema[1].KeyType !== 'RANGE') throw invalid(`Invalid KeySchema: The second KeySchemaElement is not a RANGE key type${where}`);
    if (schema[1] && schema[1].AttributeName === schema[0]!.AttributeName) throw invalid(`Both the Hash Key and the Range Key element in the KeySchema have the same name${where}`);
  };
  keyOrder(table.KeySchema, '');
  const defined = new Map(table.AttributeDefinitions.map((d) => [d.AttributeName, d.AttributeType]));
  if (defined.size !== table.AttributeDefinitions.length) throw invalid('Duplicate AttributeName in AttributeDefinitions');
  const used = new Set<string>();
  const definedList = `AttributeDefinitions: [${[...defined.keys()].join(', ')}]`;
  const checkKeys = (schema: KeySchemaElement[], what: string) => {
    const missing = schema.map((k) => k.AttributeName).filter((name) => !defined.has(name));
    if (missing.length > 0) throw invalid(`Some ${what} key attributes are not defined in AttributeDefinitions. Keys: [${missing.join(', ')}], ${definedList}`);
    for (const k of schema) used.add(k.AttributeName);
  };
  checkKeys(table.KeySchema, 'index');
  const indexNames = new Set<string>();
  for (const gsi of table.GlobalSecondaryIndexes ?? []) {
    if (indexNames.has(gsi.IndexName)) throw invalid(`Duplicate index name: ${gsi.IndexName}`);
    indexNames.add(gsi.IndexName);
    keyOrder(gsi.KeySchema, ` for index ${gsi.IndexName}`);
    checkKeys(gsi.KeySchema, 'index');
  }
  if (used.size !== defined.size) {
    throw invalid('Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions');
  }
  const billing = table.BillingMode ?? 'PROVISIONED';
  const provisioned = [table.ProvisionedThroughput, ...(table.GlobalSecondaryIndexes ?? []).map((g) => g.ProvisionedThroughput)];
  if (billing === 'PROVISIONED' && provisioned.some((p) => p === undefined)) throw invalid('ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED');
  if (billing === 'PAY_PER_REQUEST' && provisioned.some((p) => p !== undefined)) throw invalid('Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST');
}

function checkFormatOptions(request: ImportTableRequest): void {
  if (request.InputFormatOptions?.Csv && request.InputFormat !== 'CSV') {
    throw validationError('InputFormatOptions.Csv can only be specified when InputFormat is CSV');
  }
}
