/**
 * Requests that arrive before the guard is up, and policies that do not compile: nothing reaches
 * the metadata service before a policy is loaded, and a bad reload keeps the running policy.
 * (Before the process starts at all, the firewall rules' blocking-first order covers it:
 * test/unit/imds-firewall-rules.test.ts.)
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../src/core/config/load-config.js';
import { createCredentialBroker } from '../../src/core/credentials/create-credential-broker.js';
import { MetricsRegistry } from '../../src/core/metrics/metrics-registry.js';
import { createImdsFront } from '../../src/imds-guard/imds-front.js';
import type { FrontContext } from '../../src/net/front.js';
import { freePort } from '../helpers/free-port.js';
import { captureLogger } from '../helpers/log-capture.js';
import { startImdsPeer } from '../peers/imds-peer.js';
import { assertRefused, guardConfig } from './guard-fixtures.js';
import { rawGet } from './raw-http.js';

function connectable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

function frontContext(yaml: string, mutate?: (imds: Record<string, unknown>) => void): FrontContext {
  const loaded = parseConfig(yaml, '/tmp/sidekey-imds-test.yaml');
  // Bypass the schema (which would refuse the rule) to reach the front's own fail-closed path.
  const config = mutate ? { ...loaded.config, imds: { ...loaded.config.imds } } : loaded.config;
  if (mutate) mutate(config.imds as unknown as Record<string, unknown>);
  const { logger } = captureLogger();
  const metrics = new MetricsRegistry();
  const withConfig = { ...loaded, config: config as typeof loaded.config };
  return { loaded: withConfig, logger, metrics, broker: createCredentialBroker(withConfig, logger, metrics) };
}

test('before the guard is up nothing listens, and its first request is already decided by the policy', async () => {
  const peer = await startImdsPeer();
  const port = await freePort();
  const front = createImdsFront(frontContext(guardConfig(peer.url, { listen: `127.0.0.1:${port}` })));
  assert.equal(await connectable(port), false, 'something listens before start');
  assert.equal(front.ready?.(), false);
  const starting = front.start();
  // Connections racing the start are refused until the policy is compiled and the listener opens.
  const raced = await connectable(port);
  await starting;
  assert.equal(front.ready?.(), true);
  assertRefused(await rawGet(port, '/latest/meta-data/iam/security-credentials/instance-role'), 'first request', [403]);
  assert.equal(
    peer.requests.length,
    0,
    `nothing reached IMDS (a racing connect ${raced ? 'was accepted after' : 'was refused before'} the policy)`,
  );
  await front.stop(100);
  assert.equal(await connectable(port), false, 'still listening after stop');
  await peer.close();
});

test('a policy that does not compile fails the start closed: no listener, nothing forwarded', async () => {
  const peer = await startImdsPeer();
  const port = await freePort();
  const ctx = frontContext(guardConfig(peer.url, { listen: `127.0.0.1:${port}` }), (imds) => {
    imds.deny = ['not-a-path'];
  });
  const front = createImdsFront(ctx);
  await assert.rejects(front.start(), /invalid path rule/);
  assert.equal(await connectable(port), false);
  assert.equal(peer.requests.length, 0);
  await front.stop(0);
  await peer.close();
});

test('a reload that does not compile keeps the running policy', async () => {
  const peer = await startImdsPeer();
  const yaml = guardConfig(peer.url, { deny: ['/latest/meta-data/ami-id'] });
  const ctx = frontContext(yaml);
  const front = createImdsFront(ctx);
  await front.start();
  const address = front.addresses?.()[0];
  const port = address?.kind === 'tcp' ? address.port : 0;
  const bad = frontContext(guardConfig(peer.url, { preset: 'strict' }), (imds) => {
    imds.allow = ['\\latest'];
  });
  await front.reload?.(bad.loaded);
  assertRefused(await rawGet(port, '/latest/meta-data/ami-id'), 'config deny still applies', [403]);
  assertRefused(await rawGet(port, '/latest/user-data'), 'default preset still applies', [403]);
  assert.equal((await rawGet(port, '/latest/meta-data/instance-id')).status, 200, 'still the default preset, not strict');
  await front.stop(100);
  await peer.close();
});
