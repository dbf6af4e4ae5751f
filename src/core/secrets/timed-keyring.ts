/**
 * A Keyring whose key operations are timed into `sidekey_keyring_duration_seconds` (by provider,
 * operation and outcome): for `kms`, the KMS calls each create, fetch and rewrap waits on.
 */
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import { timeCall } from '../metrics/time-call.js';
import type { Keyring } from './keyring.js';

export function timedKeyring(keyring: Keyring, metrics: MetricsRegistry): Keyring {
  const histogram = metrics.histogram(
    'sidekey_keyring_duration_seconds',
    'Data key operations (KMS calls for the kms keyring), by provider, operation and outcome.',
    ['provider', 'operation', 'outcome'],
  );
  const labels = (operation: string) => ({ provider: keyring.provider, operation });
  return {
    provider: keyring.provider,
    generateDataKey: (context) => timeCall(histogram, labels('generate_data_key'), () => keyring.generateDataKey(context)),
    unwrap: (wrapped, context) => timeCall(histogram, labels('unwrap'), () => keyring.unwrap(wrapped, context)),
    rewrap: (wrapped, context) => timeCall(histogram, labels('rewrap'), () => keyring.rewrap(wrapped, context)),
    prepareRewrap: () => keyring.prepareRewrap(),
    setup: () => keyring.setup(),
    describe: () => keyring.describe(),
  };
}
