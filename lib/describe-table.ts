// A DynamoDB table's description, or undefined when it does not exist: load
// (to create the table, or see whether it is there) and verify (that it exists) both ask.
import { DescribeTableCommand, type DynamoDBClient, type TableDescription } from '@aws-sdk/client-dynamodb';
import { describeError, isNotFound } from './dynamo-errors.ts';
import { UserError } from './errors.ts';

export async function describeTable(client: Pick<DynamoDBClient, 'send'>, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new UserError(`cannot describe DynamoDB table ${tableName}: ${describeError(err)}`);
  }
}
