// Which way load writes, and why, said as load's first line. Import mode is
// the default: on AWS (no endpoint, or a VPC / FIPS endpoint) ImportTable is
// there. Only a DynamoDB endpoint on this machine defaults to batch: that is
// DynamoDB Local, which has no ImportTable (the local stack's ImportTable
// endpoint is loopback too: MODE=import asks for it).
import { isLoopbackEndpoint } from '../lib/aws.ts';
import { UserError } from '../lib/errors.ts';

export type LoadMode = 'import' | 'batch';

export interface ModeChoice { mode: LoadMode; why: string }

const MODES: readonly string[] = ['import', 'batch'];

/** `flag`: --mode when given; else MODE; else by AWS_ENDPOINT_URL_DYNAMODB. */
export function chooseLoadMode(flag: string | undefined, env: NodeJS.ProcessEnv): ModeChoice {
  if (flag) return { mode: flag as LoadMode, why: `--mode ${flag}` };
  if (env.MODE) {
    if (!MODES.includes(env.MODE)) throw new UserError(`invalid MODE=${JSON.stringify(env.MODE)}: use MODE=import (ImportTable) or MODE=batch (BatchWriteItem)`);
    return { mode: env.MODE as LoadMode, why: `MODE=${env.MODE}` };
  }
  const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB;
  if (isLoopbackEndpoint(endpoint)) {
    // The origin only: an endpoint URL may carry user:password.
    return { mode: 'batch', why: `AWS_ENDPOINT_URL_DYNAMODB=${new URL(endpoint!).origin} is a loopback address (DynamoDB Local has no ImportTable); MODE=import to import anyway` };
  }
  return { mode: 'import', why: `${endpoint ? `AWS_ENDPOINT_URL_DYNAMODB=${new URL(endpoint).origin} is not a loopback address` : 'AWS_ENDPOINT_URL_DYNAMODB is not set'}: DynamoDB on AWS; MODE=batch for BatchWriteItem` };
}
