// One DynamoDB JSON line as ImportTable reads it: `{"Item":{…}}`, and whether
// it can form an item (S3DataImport.Validation: "If the Amazon S3 object
// itself is malformed or if its contents cannot form a DynamoDB item, then we
// may skip processing the remaining portion of the object"). The checks here
// are the ones AWS words itself in the import log ("Missing the key pk in the
// item") and those DynamoDB Local would not survive (bad base64 makes it fail
// internally); everything else (numbers, sizes, empty keys, GSI key types,
// sets) DynamoDB Local itself rejects when the item is written. Messages name
// attributes, never their values.
import { getOwn } from '../../lib/own-property.ts';
import type { AttributeDefinition, KeySchemaElement } from './import-request.ts';

export type AttributeJson = Record<string, unknown>;
export type ItemJson = Record<string, AttributeJson>;

export type ParsedLine = { item: ItemJson } | { malformed: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseItemLine(text: string): ParsedLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { malformed: `Unable to parse the line as JSON (${(err as Error).name}): the rest of this S3 object was not processed` };
  }
  if (!isObject(parsed) || !isObject(parsed.Item)) {
    return { malformed: 'The line is not a DynamoDB JSON item ({"Item":{...}}): the rest of this S3 object was not processed' };
  }
  return { item: parsed.Item as ItemJson };
}

const TYPES = ['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS'] as const;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Why `value` is not a DynamoDB JSON attribute value, or undefined. */
function attributeProblem(value: unknown, name: string): string | undefined {
  if (!isObject(value)) return `Supplied AttributeValue for ${name} is not an object`;
  const keys = Object.keys(value);
  if (keys.length === 0) return 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes';
  if (keys.length > 1) return 'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes';
  const type = keys[0]!;
  const inner = value[type];
  if (!(TYPES as readonly string[]).includes(type)) return 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes';
  const wrong = () => `Unexpected JSON type for a ${type} attribute value in ${name}`;
  switch (type) {
    case 'S': case 'N': return typeof inner === 'string' ? undefined : wrong();
    case 'B': return typeof inner !== 'string' ? wrong() : BASE64.test(inner) ? undefined : `Invalid Base64 value for a B attribute in ${name}`;
    case 'BOOL': return typeof inner === 'boolean' ? undefined : wrong();
    case 'NULL': return inner === true ? undefined : 'One or more parameter values were invalid: Null attribute value types must have the value of true';
    case 'SS': case 'NS': case 'BS': {
      if (!Array.isArray(inner) || inner.some((e) => typeof e !== 'string')) return wrong();
      if (type === 'BS' && inner.some((e) => !BASE64.test(e as string))) return `Invalid Base64 value in a BS attribute in ${name}`;
      return undefined;
    }
    case 'L': {
      if (!Array.isArray(inner)) return wrong();
      for (const element of inner) { const p = attributeProblem(element, name); if (p) return p; }
      return undefined;
    }
    default: { // M
      if (!isObject(inner)) return wrong();
      for (const [key, element] of Object.entries(inner)) { const p = attributeProblem(element, `${name}.${key}`); if (p) return p; }
      return undefined;
    }
  }
}

/** The first rule `item` breaks, as the import logs it, or undefined when DynamoDB Local may judge the rest. */
export function itemProblem(item: ItemJson, keySchema: KeySchemaElement[], definitions: AttributeDefinition[]): string | undefined {
  for (const key of keySchema) {
    const value = getOwn(item, key.AttributeName);
    if (value === undefined) return `One or more parameter values were invalid: Missing the key ${key.AttributeName} in the item`;
    const expected = definitions.find((d) => d.AttributeName === key.AttributeName)!.AttributeType;
    const actual = isObject(value) ? Object.keys(value)[0] : undefined;
    if (actual !== expected) return `One or more parameter values were invalid: Type mismatch for key ${key.AttributeName} expected: ${expected} actual: ${actual ?? 'none'}`;
  }
  for (const [name, value] of Object.entries(item)) {
    if (name === '') return 'One or more parameter values were invalid: An attribute name cannot be empty';
    const problem = attributeProblem(value, name);
    if (problem) return problem;
  }
  return undefined;
}

/** The item's primary key as one string: items with the same one overwrite each other. */
export function primaryKeyOf(item: ItemJson, keySchema: KeySchemaElement[]): string {
  return JSON.stringify(keySchema.map((k) => item[k.AttributeName]));
}
