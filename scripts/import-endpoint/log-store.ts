// The CloudWatch Logs an import writes and the reads of them, in memory:
// log group /aws-dynamodb/imports, one stream `<import id>/error` per import
// with errors, one JSON event per failed item (S3DataImport.Validation,
// "Troubleshooting": `{"itemS3Pointer":{"bucket","key","itemIndex"},
// "importArn", "errorMessages":[…]}`). Reads answer as the Logs API does:
// GetLogEvents (f/…/s, b/…/s tokens), FilterLogEvents, DescribeLogStreams,
// DescribeLogGroups; a group or stream that does not exist is
// ResourceNotFoundException.
import { ApiError } from './protocol.ts';

export const IMPORT_LOG_GROUP = '/aws-dynamodb/imports';
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

interface LogEvent { timestamp: number; ingestionTime: number; message: string; eventId: string }
interface LogStream { name: string; creationTime: number; events: LogEvent[] }
interface LogGroup { name: string; creationTime: number; streams: Map<string, LogStream> }

type Json = Record<string, unknown>;

export function logGroupArn(name: string): string {
  return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${name}:*`;
}

const invalidParameter = (message: string) => new ApiError('InvalidParameterException', message);

function optionalString(body: Json, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidParameter(`${key} must be a string`);
  return value;
}

function optionalInteger(body: Json, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidParameter(`1 validation error detected: Value '${String(value)}' at '${key}' failed to satisfy constraint: Member must have value between ${min} and ${max}`);
  }
  return value;
}

/** Simple filter patterns: every term must appear (quoted phrases as one term), case-sensitive as in CloudWatch. */
function matcher(pattern: string | undefined): (message: string) => boolean {
  if (!pattern || !pattern.trim()) return () => true;
  if (/^\s*[{[]/.test(pattern)) throw invalidParameter('JSON and space-delimited filter patterns are not supported by the local import endpoint: use plain terms');
  const terms = [...pattern.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  return (message) => terms.every((term) => message.includes(term));
}

export class LogStore {
  private readonly groups = new Map<string, LogGroup>();
  private eventCounter = 0;

  createGroup(name: string): void {
    if (!this.groups.has(name)) this.groups.set(name, { name, creationTime: Date.now(), streams: new Map() });
  }

  put(groupName: string, streamName: string, message: string): void {
    this.createGroup(groupName);
    const group = this.groups.get(groupName)!;
    let stream = group.streams.get(streamName);
    if (!stream) {
      stream = { name: streamName, creationTime: Date.now(), events: [] };
      group.streams.set(streamName, stream);
    }
    const now = Date.now();
    this.eventCounter++;
    stream.events.push({ timestamp: now, ingestionTime: now, message, eventId: String(this.eventCounter).padStart(56, '0') });
  }

  private group(body: Json): LogGroup {
    const name = optionalString(body, 'logGroupName') ?? this.nameFromIdentifier(optionalString(body, 'logGroupIdentifier'));
    if (!name) throw invalidParameter('Either logGroupName or logGroupIdentifier must be specified');
    const group = this.groups.get(name);
    if (!group) throw new ApiError('ResourceNotFoundException', 'The specified log group does not exist.');
    return group;
  }

  private nameFromIdentifier(identifier: string | undefined): string | undefined {
    if (!identifier) return undefined;
    const m = /^arn:[^:]+:logs:[^:]*:[^:]*:log-group:(.+?)(:\*)?$/.exec(identifier);
    return m ? m[1] : identifier;
  }

  /** Dispatches one Logs_20140328 operation. */
  handle(operation: string, body: Json): unknown {
    switch (operation) {
      case 'GetLogEvents': return this.getLogEvents(body);
      case 'FilterLogEvents': return this.filterLogEvents(body);
      case 'DescribeLogStreams': return this.describeLogStreams(body);
      case 'DescribeLogGroups': return this.describeLogGroups(body);
      default: throw new ApiError('UnknownOperationException', `The local import endpoint does not implement Logs ${operation}`);
    }
  }

  private getLogEvents(body: Json): unknown {
    const group = this.group(body);
    const streamName = optionalString(body, 'logStreamName');
    if (!streamName) throw invalidParameter("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null");
    const stream = group.streams.get(streamName);
    if (!stream) throw new ApiError('ResourceNotFoundException', 'The specified log stream does not exist.');
    const limit = optionalInteger(body, 'limit', 1, 10_000) ?? 10_000;
    const startTime = optionalInteger(body, 'startTime', 0, Number.MAX_SAFE_INTEGER);
    const endTime = optionalInteger(body, 'endTime', 0, Number.MAX_SAFE_INTEGER);
    const events = stream.events.filter((e) => (startTime === undefined || e.timestamp >= startTime) && (endTime === undefined || e.timestamp < endTime));
    const token = optionalString(body, 'nextToken');
    let from: number;
    let to: number;
    const m = token ? /^([fb])\/(\d+)\/s$/.exec(token) : null;
    if (token && !m) throw invalidParameter('The specified nextToken is invalid.');
    if (m && m[1] === 'f') { from = Number(m[2]); to = Math.min(events.length, from + limit); }
    else if (m) { to = Number(m[2]); from = Math.max(0, to - limit); }
    else if (body.startFromHead === true) { from = 0; to = Math.min(events.length, limit); }
    else { to = events.length; from = Math.max(0, to - limit); }
    const page = events.slice(from, to);
    const pad = (n: number) => String(n).padStart(56, '0');
    return {
      events: page.map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
      nextForwardToken: `f/${pad(to)}/s`,
      nextBackwardToken: `b/${pad(from)}/s`,
    };
  }

  private filterLogEvents(body: Json): unknown {
    const group = this.group(body);
    const names = body.logStreamNames;
    if (names !== undefined && (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))) throw invalidParameter('logStreamNames must be a list of strings');
    const prefix = optionalString(body, 'logStreamNamePrefix');
    if (names && prefix) throw invalidParameter('Cannot specify both logStreamNames and logStreamNamePrefix');
    const limit = optionalInteger(body, 'limit', 1, 10_000) ?? 10_000;
    const startTime = optionalInteger(body, 'startTime', 0, Number.MAX_SAFE_INTEGER);
    const endTime = optionalInteger(body, 'endTime', 0, Number.MAX_SAFE_INTEGER);
    const matches = matcher(optionalString(body, 'filterPattern'));
    const streams = [...group.streams.values()].filter((s) => (names ? (names as string[]).includes(s.name) : !prefix || s.name.startsWith(prefix)));
    const all = streams
      .flatMap((s) => s.events.map((e) => ({ logStreamName: s.name, ...e })))
      .filter((e) => (startTime === undefined || e.timestamp >= startTime) && (endTime === undefined || e.timestamp <= endTime) && matches(e.message))
      .sort((a, b) => a.timestamp - b.timestamp || (a.eventId < b.eventId ? -1 : 1));
    const token = optionalString(body, 'nextToken');
    const from = token ? Number(/^local\/(\d+)$/.exec(token)?.[1] ?? NaN) : 0;
    if (!Number.isInteger(from)) throw invalidParameter('The specified nextToken is invalid.');
    const page = all.slice(from, from + limit);
    return {
      events: page,
      searchedLogStreams: streams.map((s) => ({ logStreamName: s.name, searchedCompletely: true })),
      ...(from + limit < all.length ? { nextToken: `local/${from + limit}` } : {}),
    };
  }

  private describeLogStreams(body: Json): unknown {
    const group = this.group(body);
    const prefix = optionalString(body, 'logStreamNamePrefix');
    const orderBy = optionalString(body, 'orderBy') ?? 'LogStreamName';
    if (orderBy !== 'LogStreamName' && orderBy !== 'LastEventTime') throw invalidParameter(`Invalid orderBy ${orderBy}`);
    if (orderBy === 'LastEventTime' && prefix) throw invalidParameter('Cannot order by LastEventTime with a logStreamNamePrefix.');
    const limit = optionalInteger(body, 'limit', 1, 50) ?? 50;
    const last = (s: LogStream) => s.events.at(-1)?.timestamp ?? 0;
    const streams = [...group.streams.values()]
      .filter((s) => !prefix || s.name.startsWith(prefix))
      .sort((a, b) => (orderBy === 'LogStreamName' ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : last(a) - last(b)));
    if (body.descending === true) streams.reverse();
    const token = optionalString(body, 'nextToken');
    const from = token ? Number(/^local\/(\d+)$/.exec(token)?.[1] ?? NaN) : 0;
    if (!Number.isInteger(from)) throw invalidParameter('The specified nextToken is invalid.');
    return {
      logStreams: streams.slice(from, from + limit).map((s) => ({
        logStreamName: s.name,
        creationTime: s.creationTime,
        ...(s.events.length ? { firstEventTimestamp: s.events[0]!.timestamp, lastEventTimestamp: last(s), lastIngestionTime: s.events.at(-1)!.ingestionTime } : {}),
        arn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${group.name}:log-stream:${s.name}`,
        storedBytes: 0,
      })),
      ...(from + limit < streams.length ? { nextToken: `local/${from + limit}` } : {}),
    };
  }

  private describeLogGroups(body: Json): unknown {
    const prefix = optionalString(body, 'logGroupNamePrefix');
    return {
      logGroups: [...this.groups.values()].filter((g) => !prefix || g.name.startsWith(prefix)).map((g) => ({
        logGroupName: g.name,
        creationTime: g.creationTime,
        arn: logGroupArn(g.name),
        storedBytes: 0,
      })),
    };
  }
}
