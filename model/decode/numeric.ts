// numeric prints as `[-]digits[.digits]` with its scale's trailing zeros
// (`12.50`), or `NaN`, `Infinity`, `-Infinity`. The text goes to DynamoDB as
// printed; DynamoDB normalizes it (`12.5`) but keeps the value.
import type { AttributeValue, Warn } from '../attribute.ts';
import { numberProblem } from '../dynamodb-limits.ts';

export function decodeNumeric(text: string, warn: Warn): AttributeValue {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') {
    warn(`numeric ${text} has no DynamoDB number: kept as S`);
    return { S: text };
  }
  const problem = numberProblem(text);
  if (problem !== undefined) {
    warn(`numeric with ${problem} does not fit a DynamoDB number: kept as S`);
    return { S: text };
  }
  return { N: text };
}
