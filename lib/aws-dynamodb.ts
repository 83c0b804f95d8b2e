// The DynamoDB and CloudWatch Logs clients (load, verify, catchup), configured
// as lib/aws.ts configures S3's: AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, the region and credentials chains.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DYNAMODB_RETRY, S3_RETRY, clientSettings } from './aws.ts';
import type { AwsRetryPolicy } from './retry.ts';

export function dynamoClient(env: NodeJS.ProcessEnv = process.env, retry: AwsRetryPolicy = DYNAMODB_RETRY): DynamoDBClient {
  return new DynamoDBClient(clientSettings(env, env.AWS_ENDPOINT_URL_DYNAMODB, retry, 'DynamoDB'));
}

export function cloudWatchLogsClient(env: NodeJS.ProcessEnv = process.env): CloudWatchLogsClient {
  return new CloudWatchLogsClient(clientSettings(env, env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, S3_RETRY, 'CloudWatch Logs'));
}
