/**
 * A SecretStore whose every call is timed into `sidekey_secrets_store_duration_seconds` (by store
 * kind, operation and outcome): how long SQLite or DynamoDB took, apart from the keyring's share.
 */
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import { timeCall } from '../metrics/time-call.js';
import type { KeyRef, RevokeOutcome, SecretStore, VersionMeta, VersionRow } from './secret-store.js';

export function timedStore(store: SecretStore, metrics: MetricsRegistry): SecretStore {
  const histogram = metrics.histogram(
    'sidekey_secrets_store_duration_seconds',
    'Secrets store calls (SQLite or DynamoDB), by store, operation and outcome.',
    ['store', 'operation', 'outcome'],
  );
  const timed = <T>(operation: string, call: () => Promise<T>) => timeCall(histogram, { store: store.kind, operation }, call);
  const stillCurrent = store.stillCurrent?.bind(store);
  const writtenElsewhere = store.writtenElsewhere?.bind(store);
  return {
    kind: store.kind,
    setup: () => timed('setup', () => store.setup()),
    open: (app) => timed('open', () => store.open(app)),
    ...(writtenElsewhere ? { writtenElsewhere } : {}),
    ...(stillCurrent
      ? {
          stillCurrent: (app: string, name: string, serial: number, latest: boolean) =>
            timed('still_current', () => stillCurrent(app, name, serial, latest)),
        }
      : {}),
    latestSerial: (app, name) => timed('latest_serial', () => store.latestSerial(app, name)),
    insert: (row: VersionRow) => timed('insert', () => store.insert(row)),
    get: (app, name, serial) => timed('get', () => store.get(app, name, serial)),
    latestActive: (app, name) => timed('latest_active', () => store.latestActive(app, name)),
    history: (app, name): Promise<VersionMeta[]> => timed('history', () => store.history(app, name)),
    listNames: (app) => timed('list_names', () => store.listNames(app)),
    revoke: (app, name, serial, by, at): Promise<RevokeOutcome> => timed('revoke', () => store.revoke(app, name, serial, by, at)),
    deleteAll: (app, name) => timed('delete_all', () => store.deleteAll(app, name)),
    scanKeys: () => store.scanKeys(),
    replaceDataKey: (ref: KeyRef, next: Buffer) => timed('replace_data_key', () => store.replaceDataKey(ref, next)),
    close: () => store.close(),
  };
}
