/**
 * The scale-out store: ecs-secrets' DynamoDB layout (HASH `Name` S, RANGE `Serial` N,
 * `EncryptedData`, `EncryptedDataKey`, `Active`) with the application in the partition key
 * (`Name` = `app/name`, so an IAM policy can limit a role to one application with
 * `dynamodb:LeadingKeys`) and our own attributes (`Application`, `SecretName`, `CreatedAt`,
 * `CreatedBy`, `RevokedAt`, `RevokedBy`, `Format`). Every write is conditional: a version is put
 * only if its serial does not exist, and revoke only if the version is still active.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  ScanCommand,
  UpdateItemCommand,
  type WriteRequest,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { SidekeyError } from '../errors.js';
import { type Item, key, metaOf, rowOf } from './dynamodb-item.js';
import type { KeyRef, RevokeOutcome, SecretStore, VersionMeta, VersionRow } from './secret-store.js';
import { SECRETS_TABLE_ATTRIBUTES, SECRETS_TABLE_KEY_SCHEMA } from './secrets-table-layout.js';

/** SDK attempts per call; the SDK's standard retry backs off with jitter on throttling errors. */
export const DYNAMODB_MAX_ATTEMPTS = 8;
/** BatchWriteItem's own limit: 25 requests per call. */
export const DYNAMODB_BATCH_WRITE_MAX = 25;
/** Backoff for unprocessed batch items: first delay and cap, in milliseconds. */
export const UNPROCESSED_BACKOFF_MS = 50;
export const UNPROCESSED_BACKOFF_MAX_MS = 5000;
/** How long setup waits for a new table to become ACTIVE, in seconds. */
export const TABLE_WAIT_SECONDS = 120;
/** The row format written in `Format`. */
const ROW_FORMAT = 1;

export interface DynamoDbStoreOptions {
  readonly table: string;
  readonly region?: string;
  readonly credentials?: AwsCredentialIdentityProvider;
}

export class DynamoDbStore implements SecretStore {
  readonly kind = 'dynamodb' as const;
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(options: DynamoDbStoreOptions) {
    this.#table = options.table;
    this.#client = new DynamoDBClient({
      ...(options.region ? { region: options.region } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: DYNAMODB_MAX_ATTEMPTS,
    });
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof SidekeyError) throw error;
      throw new SidekeyError('STORE_FAILED', `DynamoDB ${what} on table ${this.#table} failed (${(error as Error).name})`, {
        cause: error,
      });
    }
  }

  async setup(): Promise<void> {
    await this.#call('CreateTable', async () => {
      try {
        await this.#client.send(
          new CreateTableCommand({
            TableName: this.#table,
            AttributeDefinitions: [...SECRETS_TABLE_ATTRIBUTES],
            KeySchema: [...SECRETS_TABLE_KEY_SCHEMA],
            BillingMode: 'PAY_PER_REQUEST',
          }),
        );
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      }
      await waitUntilTableExists({ client: this.#client, maxWaitTime: TABLE_WAIT_SECONDS }, { TableName: this.#table });
    });
  }

  /**
   * One Query under the application's own key prefix (what a least-privilege role may read; no
   * DescribeTable or CreateTable needed): a missing table is a start-up error that says how to
   * create it, not a failure on the first request.
   */
  async open(app: string): Promise<void> {
    try {
      await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: '#n = :n',
          ExpressionAttributeNames: { '#n': 'Name' },
          // No secret name starts with a dot: this key never holds a version.
          ExpressionAttributeValues: { ':n': { S: `${app}/.sidekey-probe` } },
          Limit: 1,
        }),
      );
    } catch (error) {
      if (error instanceof ResourceNotFoundException) {
        throw new SidekeyError(
          'STORE_FAILED',
          `the DynamoDB table ${this.#table} does not exist: create it once with sidekey secrets setup (or sidekey setup --deploy); serve never creates tables, so the daemon's role needs no dynamodb:CreateTable`,
          { cause: error },
        );
      }
      throw new SidekeyError('STORE_FAILED', `DynamoDB Query on table ${this.#table} failed at start-up (${(error as Error).name})`, {
        cause: error,
      });
    }
  }

  async latestSerial(app: string, name: string): Promise<number> {
    const out = await this.#call('Query', () =>
      this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: '#n = :n',
          ExpressionAttributeNames: { '#n': 'Name' },
          ExpressionAttributeValues: { ':n': { S: key(app, name) } },
          ProjectionExpression: 'Serial',
          ScanIndexForward: false,
          Limit: 1,
          ConsistentRead: true,
        }),
      ),
    );
    const serial = out.Items?.[0]?.Serial?.N;
    return serial === undefined ? 0 : Number(serial);
  }

  async insert(row: VersionRow): Promise<boolean> {
    const item: Item = {
      Name: { S: key(row.app, row.name) },
      Serial: { N: String(row.serial) },
      Application: { S: row.app },
      SecretName: { S: row.name },
      Active: { BOOL: true },
      CreatedAt: { S: row.createdAt },
      CreatedBy: { S: row.createdBy },
      Format: { N: String(ROW_FORMAT) },
      ...(row.data ? { EncryptedData: { B: row.data } } : {}),
      ...(row.dataKey ? { EncryptedDataKey: { B: row.dataKey } } : {}),
    };
    return this.#call('PutItem', async () => {
      try {
        await this.#client.send(
          new PutItemCommand({ TableName: this.#table, Item: item, ConditionExpression: 'attribute_not_exists(Serial)' }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    });
  }

  async get(app: string, name: string, serial: number): Promise<VersionRow | undefined> {
    const out = await this.#call('GetItem', () =>
      this.#client.send(
        new GetItemCommand({
          TableName: this.#table,
          Key: { Name: { S: key(app, name) }, Serial: { N: String(serial) } },
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item ? rowOf(app, name, out.Item) : undefined;
  }

  /** Every item of a name, newest first, page by page. */
  async *#query(app: string, name: string, options: { projection?: string; activeOnly?: boolean } = {}): AsyncIterable<Item> {
    let start: Item | undefined;
    do {
      const out = await this.#call('Query', () =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            KeyConditionExpression: '#n = :n',
            ...(options.activeOnly ? { FilterExpression: 'Active = :t' } : {}),
            ExpressionAttributeNames: { '#n': 'Name' },
            ExpressionAttributeValues: { ':n': { S: key(app, name) }, ...(options.activeOnly ? { ':t': { BOOL: true } } : {}) },
            ...(options.projection ? { ProjectionExpression: options.projection } : {}),
            ScanIndexForward: false,
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      yield* out.Items ?? [];
      start = out.LastEvaluatedKey;
    } while (start);
  }

  async latestActive(app: string, name: string): Promise<VersionRow | undefined> {
    for await (const item of this.#query(app, name, { activeOnly: true })) return rowOf(app, name, item);
    return undefined;
  }

  async history(app: string, name: string): Promise<VersionMeta[]> {
    const out: VersionMeta[] = [];
    const projection = 'Serial, Active, CreatedAt, CreatedBy, RevokedAt, RevokedBy';
    for await (const item of this.#query(app, name, { projection })) out.push(metaOf(item));
    return out;
  }

  /** A paginated Scan: listing reads the whole table (DynamoDB has no cheaper way without an index). */
  async *#scan(request: { filter?: string; values?: Item; projection: string }): AsyncIterable<Item> {
    let start: Item | undefined;
    do {
      const out = await this.#call('Scan', () =>
        this.#client.send(
          new ScanCommand({
            TableName: this.#table,
            ProjectionExpression: request.projection,
            ...(request.filter ? { FilterExpression: request.filter } : {}),
            ...(request.values ? { ExpressionAttributeValues: request.values } : {}),
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      yield* out.Items ?? [];
      start = out.LastEvaluatedKey;
    } while (start);
  }

  async listNames(app: string): Promise<string[]> {
    const names = new Set<string>();
    for await (const item of this.#scan({ filter: 'Application = :a', values: { ':a': { S: app } }, projection: 'SecretName' })) {
      if (item.SecretName?.S) names.add(item.SecretName.S);
    }
    return [...names].sort();
  }

  async revoke(app: string, name: string, serial: number, by: string, at: string): Promise<RevokeOutcome> {
    return this.#call('UpdateItem', async () => {
      try {
        await this.#client.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: { Name: { S: key(app, name) }, Serial: { N: String(serial) } },
            UpdateExpression: 'SET Active = :f, RevokedAt = :at, RevokedBy = :by REMOVE EncryptedData, EncryptedDataKey',
            ConditionExpression: 'attribute_exists(Serial) AND Active = :t',
            ExpressionAttributeValues: { ':f': { BOOL: false }, ':t': { BOOL: true }, ':at': { S: at }, ':by': { S: by } },
          }),
        );
        return 'revoked';
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        return (await this.get(app, name, serial)) ? 'already-revoked' : 'missing';
      }
    });
  }

  async #batchDelete(keys: Item[]): Promise<void> {
    let pending: WriteRequest[] = keys.map((k) => ({ DeleteRequest: { Key: k } }));
    let delay = UNPROCESSED_BACKOFF_MS;
    while (pending.length > 0) {
      const chunk = pending.slice(0, DYNAMODB_BATCH_WRITE_MAX);
      pending = pending.slice(DYNAMODB_BATCH_WRITE_MAX);
      const out = await this.#call('BatchWriteItem', () =>
        this.#client.send(new BatchWriteItemCommand({ RequestItems: { [this.#table]: chunk } })),
      );
      const unprocessed = out.UnprocessedItems?.[this.#table] ?? [];
      if (unprocessed.length > 0) {
        pending = [...unprocessed, ...pending];
        await sleep(Math.random() * delay);
        delay = Math.min(delay * 2, UNPROCESSED_BACKOFF_MAX_MS);
      }
    }
  }

  async deleteAll(app: string, name: string): Promise<number> {
    const keys: Item[] = [];
    for await (const item of this.#query(app, name, { projection: '#n, Serial' })) {
      keys.push({ Name: item.Name as AttributeValue, Serial: item.Serial as AttributeValue });
    }
    await this.#batchDelete(keys);
    return keys.length;
  }

  async *scanKeys(): AsyncIterable<KeyRef> {
    const projection = 'Application, SecretName, Serial, EncryptedDataKey';
    for await (const item of this.#scan({ filter: 'attribute_exists(EncryptedDataKey)', projection })) {
      if (!item.EncryptedDataKey?.B || !item.Application?.S || !item.SecretName?.S) continue;
      yield {
        app: item.Application.S,
        name: item.SecretName.S,
        serial: Number(item.Serial?.N),
        dataKey: Buffer.from(item.EncryptedDataKey.B),
      };
    }
  }

  async replaceDataKey(ref: KeyRef, next: Buffer): Promise<boolean> {
    return this.#call('UpdateItem', async () => {
      try {
        await this.#client.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: { Name: { S: key(ref.app, ref.name) }, Serial: { N: String(ref.serial) } },
            UpdateExpression: 'SET EncryptedDataKey = :next',
            ConditionExpression: 'EncryptedDataKey = :previous',
            ExpressionAttributeValues: { ':next': { B: next }, ':previous': { B: ref.dataKey } },
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}
