// real and double precision print their shortest exact text (the extract sets
// extra_float_digits=3): `1.5`, `1e+100`, `1e-05`, `-0`, `NaN`, `Infinity`.
// DynamoDB accepts that exponent form as is (lower-case e, signed, leading
// zeros: `1e-05`), so only values it cannot hold fall back.
import type { AttributeValue, Warn } from '../attribute.ts';
import { numberProblem } from '../dynamodb-limits.ts';

export function decodeFloat(text: string, warn: Warn): AttributeValue {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') {
    warn(`float ${text} has no DynamoDB number: kept as S`);
    return { S: text };
  }
  // IEEE negative zero is a value of its own (1/-0 is -Infinity); DynamoDB
  // would store it as 0, so the sign would be lost.
  if (text === '-0') {
    warn('float -0 has no DynamoDB number (DynamoDB stores 0): kept as S');
    return { S: text };
  }
  const problem = numberProblem(text);
  if (problem !== undefined) {
    warn(`float with ${problem} does not fit a DynamoDB number: kept as S`);
    return { S: text };
  }
  return { N: text };
}
