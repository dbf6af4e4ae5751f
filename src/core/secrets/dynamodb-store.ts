/**
 * The scale-out store, in one of two layouts of the same key schema (HASH `Name` S, RANGE
 * `Serial` N, `EncryptedData`, `EncryptedDataKey`, `Active`):
 * - `dynamodb`, sidekey's: one table, the application in the partition key (`Name` = `app/name`,
 *   so an IAM policy can limit a role to one application with `dynamodb:LeadingKeys`), blobs as
 *   binary, and our own attributes (`Application`, `SecretName`, `Format`);
 * - `ecs-secrets`, that tool's own tables, byte for byte: one table per application
 *   (`ECS-Secrets-<app>-Secrets`), `Name` the bare name, blobs as base64 strings, so each tool
 *   reads what the other wrote (the blobs' format is ecs-secrets-codec.ts's business).
 * Both record `CreatedAt`, `CreatedBy`, `RevokedAt`, `RevokedBy` (ecs-secrets ignores them). Every
 * write is conditional: a version is put only if its serial does not exist, and revoke only if
 * the version is still active; it destroys the ciphertext in both layouts (ecs-secrets checks
 * `Active` before it decrypts, so it answers a revoked version as it always did).
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
import { ecsSecretsTable } from './ecs-secrets-table.js';
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

export type DynamoDbStoreOptions = (
  | { readonly table: string; readonly layout?: 'dynamodb' }
  | {
      readonly layout: 'ecs-secrets';
      /** The applications whose tables `setup` creates. */
      readonly applications: readonly string[];
    }
) & {
  readonly region?: string;
  readonly credentials?: AwsCredentialIdentityProvider;
};

export class DynamoDbStore implements SecretStore {
  readonly kind: 'dynamodb' | 'ecs-secrets';
  readonly #client: DynamoDBClient;
  readonly #options: DynamoDbStoreOptions;

  constructor(options: DynamoDbStoreOptions) {
    this.#options = options;
    this.kind = options.layout === 'ecs-secrets' ? 'ecs-secrets' : 'dynamodb';
    this.#client = new DynamoDBClient({
      ...(options.region ? { region: options.region } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: DYNAMODB_MAX_ATTEMPTS,
    });
  }

  /** The table an application's versions live in. */
  #table(app: string): string {
    return this.#options.layout === 'ecs-secrets' ? ecsSecretsTable(app) : this.#options.table;
  }

  /** The partition key of a name. */
  #key(app: string, name: string): string {
    return this.#options.layout === 'ecs-secrets' ? name : key(app, name);
  }

  async #call<T>(what: string, table: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof SidekeyError) throw error;
      throw new SidekeyError('STORE_FAILED', `DynamoDB ${what} on table ${table} failed (${(error as Error).name})`, {
        cause: error,
      });
    }
  }

  async setup(): Promise<void> {
    const options = this.#options;
    const tables = options.layout === 'ecs-secrets' ? options.applications.map(ecsSecretsTable) : [options.table];
    for (const table of tables) {
      await this.#call('CreateTable', table, async () => {
        try {
          await this.#client.send(
            new CreateTableCommand({
              TableName: table,
              AttributeDefinitions: [...SECRETS_TABLE_ATTRIBUTES],
              KeySchema: [...SECRETS_TABLE_KEY_SCHEMA],
              BillingMode: 'PAY_PER_REQUEST',
            }),
          );
        } catch (error) {
          if (!(error instanceof ResourceInUseException)) throw error;
        }
        await waitUntilTableExists({ client: this.#client, maxWaitTime: TABLE_WAIT_SECONDS }, { TableName: table });
      });
    }
  }

  /**
   * One Query under the application's own key prefix (what a least-privilege role may read; no
   * DescribeTable or CreateTable needed): a missing table is a start-up error that says how to
   * create it, not a failure on the first request.
   */
  async open(app: string): Promise<void> {
    const table = this.#table(app);
    try {
      await this.#client.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: '#n = :n',
          ExpressionAttributeNames: { '#n': 'Name' },
          // No secret name starts with a dot: this key never holds a version.
          ExpressionAttributeValues: { ':n': { S: this.#key(app, '.sidekey-probe') } },
          Limit: 1,
        }),
      );
    } catch (error) {
      if (error instanceof ResourceNotFoundException) {
        throw new SidekeyError(
          'STORE_FAILED',
          `the DynamoDB table ${table} does not exist: create it once with sidekey secrets setup (or sidekey setup --deploy); serve never creates tables, so the daemon's role needs no dynamodb:CreateTable`,
          { cause: error },
        );
      }
      throw new SidekeyError('STORE_FAILED', `DynamoDB Query on table ${table} failed at start-up (${(error as Error).name})`, {
        cause: error,
      });
    }
  }

  async latestSerial(app: string, name: string): Promise<number> {
    const table = this.#table(app);
    const out = await this.#call('Query', table, () =>
      this.#client.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: '#n = :n',
          ExpressionAttributeNames: { '#n': 'Name' },
          ExpressionAttributeValues: { ':n': { S: this.#key(app, name) } },
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

  /** A blob as the layout stores it: binary in sidekey's, base64 text in ecs-secrets'. */
  #blob(bytes: Buffer): AttributeValue {
    return this.kind === 'ecs-secrets' ? { S: bytes.toString('base64') } : { B: bytes };
  }

  async insert(row: VersionRow): Promise<boolean> {
    const table = this.#table(row.app);
    const item: Item = {
      Name: { S: this.#key(row.app, row.name) },
      Serial: { N: String(row.serial) },
      ...(this.kind === 'dynamodb' ? { Application: { S: row.app }, SecretName: { S: row.name }, Format: { N: String(ROW_FORMAT) } } : {}),
      Active: { BOOL: row.active },
      CreatedAt: { S: row.createdAt },
      CreatedBy: { S: row.createdBy },
      ...(row.data ? { EncryptedData: this.#blob(row.data) } : {}),
      ...(row.dataKey ? { EncryptedDataKey: this.#blob(row.dataKey) } : {}),
    };
    return this.#call('PutItem', table, async () => {
      try {
        await this.#client.send(new PutItemCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(Serial)' }));
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    });
  }

  /** One version's item (only `projection`'s attributes when given), read consistently. */
  async #getItem(app: string, name: string, serial: number, projection?: string): Promise<Item | undefined> {
    const table = this.#table(app);
    const out = await this.#call('GetItem', table, () =>
      this.#client.send(
        new GetItemCommand({
          TableName: table,
          Key: { Name: { S: this.#key(app, name) }, Serial: { N: String(serial) } },
          ...(projection ? { ProjectionExpression: projection } : {}),
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item;
  }

  async get(app: string, name: string, serial: number): Promise<VersionRow | undefined> {
    const item = await this.#getItem(app, name, serial);
    return item ? rowOf(app, name, item) : undefined;
  }

  /** Every item of a name, newest first, page by page. */
  async *#query(app: string, name: string, options: { projection?: string; activeOnly?: boolean } = {}): AsyncIterable<Item> {
    const table = this.#table(app);
    let start: Item | undefined;
    do {
      const out = await this.#call('Query', table, () =>
        this.#client.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: '#n = :n',
            ...(options.activeOnly ? { FilterExpression: 'Active = :t' } : {}),
            ExpressionAttributeNames: { '#n': 'Name' },
            ExpressionAttributeValues: {
              ':n': { S: this.#key(app, name) },
              ...(options.activeOnly ? { ':t': { BOOL: true } } : {}),
            },
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

  async stillCurrent(app: string, name: string, serial: number, latest: boolean): Promise<boolean> {
    if (latest) {
      for await (const item of this.#query(app, name, { projection: 'Serial', activeOnly: true })) return Number(item.Serial?.N) === serial;
      return false;
    }
    return (await this.#getItem(app, name, serial, 'Active'))?.Active?.BOOL === true;
  }

  async history(app: string, name: string): Promise<VersionMeta[]> {
    const out: VersionMeta[] = [];
    const projection = 'Serial, Active, CreatedAt, CreatedBy, RevokedAt, RevokedBy';
    for await (const item of this.#query(app, name, { projection })) out.push(metaOf(item));
    return out;
  }

  /** A paginated Scan: listing reads the whole table (DynamoDB has no cheaper way without an index). */
  async *#scan(
    table: string,
    request: { filter?: string; values?: Item; names?: Record<string, string>; projection: string },
  ): AsyncIterable<Item> {
    let start: Item | undefined;
    do {
      const out = await this.#call('Scan', table, () =>
        this.#client.send(
          new ScanCommand({
            TableName: table,
            ProjectionExpression: request.projection,
            ...(request.filter ? { FilterExpression: request.filter } : {}),
            ...(request.values ? { ExpressionAttributeValues: request.values } : {}),
            ...(request.names ? { ExpressionAttributeNames: request.names } : {}),
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
    if (this.kind === 'ecs-secrets') {
      for await (const item of this.#scan(this.#table(app), { projection: '#n', names: { '#n': 'Name' } })) {
        if (item.Name?.S) names.add(item.Name.S);
      }
    } else {
      const scan = this.#scan(this.#table(app), { filter: 'Application = :a', values: { ':a': { S: app } }, projection: 'SecretName' });
      for await (const item of scan) if (item.SecretName?.S) names.add(item.SecretName.S);
    }
    return [...names].sort();
  }

  async revoke(app: string, name: string, serial: number, by: string, at: string): Promise<RevokeOutcome> {
    const table = this.#table(app);
    return this.#call('UpdateItem', table, async () => {
      try {
        await this.#client.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { Name: { S: this.#key(app, name) }, Serial: { N: String(serial) } },
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

  async #batchDelete(table: string, keys: Item[]): Promise<void> {
    let pending: WriteRequest[] = keys.map((k) => ({ DeleteRequest: { Key: k } }));
    let delay = UNPROCESSED_BACKOFF_MS;
    while (pending.length > 0) {
      const chunk = pending.slice(0, DYNAMODB_BATCH_WRITE_MAX);
      pending = pending.slice(DYNAMODB_BATCH_WRITE_MAX);
      const out = await this.#call('BatchWriteItem', table, () =>
        this.#client.send(new BatchWriteItemCommand({ RequestItems: { [table]: chunk } })),
      );
      const unprocessed = out.UnprocessedItems?.[table] ?? [];
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
    await this.#batchDelete(this.#table(app), keys);
    return keys.length;
  }

  /** sidekey's layout only: ecs-secrets' data keys are not sidekey envelopes, and rewrap refuses them. */
  async *scanKeys(): AsyncIterable<KeyRef> {
    const options = this.#options;
    if (options.layout === 'ecs-secrets') return;
    const projection = 'Application, SecretName, Serial, EncryptedDataKey';
    for await (const item of this.#scan(options.table, { filter: 'attribute_exists(EncryptedDataKey)', projection })) {
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
    const table = this.#table(ref.app);
    return this.#call('UpdateItem', table, async () => {
      try {
        await this.#client.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { Name: { S: this.#key(ref.app, ref.name) }, Serial: { N: String(ref.serial) } },
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
