/**
 * A target with `service:` signs its IAM token with the service's assumed role: the daemon gets
 * the role's session credentials from the STS peer (AssumeRole, SigV4-verified), and the RDS IAM
 * peer knows only those session credentials, not the daemon's base key, so a login succeeds only
 * with a token signed by the assumed role (session token included).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { PgFront } from '../../src/pg-proxy/pg-front.js';
import { daemonConfig } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { type RdsIamPeer, startRdsIamPeer } from '../peers/rds-iam-peer.js';
import type { KnownKey } from '../peers/sigv4-verifier.js';
import { STS_PEER_BASE_KEY, type StsPeer, startStsPeer } from '../peers/sts-peer.js';

const ROLE = 'arn:aws:iam::123456789012:role/orders-db';
/** Issued session credentials live this long: under the token cache's 30 s credential margin, so no token may be cached. */
const SHORT_LIFETIME_SECONDS = 25;

let postgres: TestPostgres;
let sts: StsPeer;
let peer: RdsIamPeer;
let daemon: RunningDaemon;
/** The keys the RDS IAM peer accepts: filled with the session credentials STS issued. */
const peerKeys = new Map<string, KnownKey>();

const front = () => daemon.daemon.fronts.find((f) => f.name === 'postgres') as PgFront;
const client = (target: string) => {
  const address = front().listenerAddress(target);
  assert.ok(address && address.kind === 'tcp');
  return new pg.Client({ host: '127.0.0.1', port: address.port, user: 'me', database: 'x' });
};

async function metric(name: string, labels: string): Promise<number> {
  const escaped = labels.replace(/[{}]/g, '\\$&');
  return Number(new RegExp(`^${name}${escaped} (\\d+)$`, 'm').exec(await daemon.daemon.metrics.render())?.[1] ?? 0);
}

function config(): string {
  const target = (service: string | undefined, pool: string) => ({
    host: 'localhost',
    port: peer.port,
    database: 'orders',
    user: 'app_user',
    ...(service ? { service } : {}),
    tls: { mode: 'verify-full', ca_file: postgres.ca.caFile },
    listen: '127.0.0.1:0',
    pool: { max_idle: pool === 'off' ? 0 : 2 },
  });
  return daemonConfig(
    sts.url,
    { 'orders-app': { role: ROLE } },
    {
      postgres: {
        targets: {
          'as-role': target('orders-app', 'off'),
          'as-role-pooled': target('orders-app', 'on'),
          'as-base': target(undefined, 'off'),
        },
      },
    },
  );
}

before(async () => {
  postgres = await startPostgres();
  sts = await startStsPeer();
  sts.lifetimeSeconds = SHORT_LIFETIME_SECONDS;
  peer = await startRdsIamPeer({
    postgres: { socketDir: postgres.socketDir, port: postgres.port },
    tls: postgres.ca.issue('rds-peer', ['localhost']),
    hostname: 'localhost',
    region: 'us-east-1',
    keys: peerKeys,
  });
  daemon = await startDaemon(config());
});

after(async () => {
  await daemon?.stop();
  await peer?.close();
  await sts?.close();
  await postgres?.stop();
});

/** Teaches the RDS peer the session credentials the daemon holds for the service, after checking STS issued them. */
async function trustIssuedCredentials(): Promise<KnownKey> {
  const identity = await daemon.daemon.broker.serviceProvider('orders-app')();
  assert.ok(identity.accessKeyId.startsWith('ASIA'), 'session credentials');
  assert.ok(sts.issuedSecrets().includes(identity.secretAccessKey), 'issued by the STS peer');
  assert.ok(identity.sessionToken);
  const key: KnownKey = {
    accessKeyId: identity.accessKeyId,
    secretAccessKey: identity.secretAccessKey,
    sessionToken: identity.sessionToken,
  };
  peerKeys.set(key.accessKeyId, key);
  return key;
}

describe('signing as a service assumed role', () => {
  test('a login succeeds with a token signed by the assumed role (session token included); base credentials are refused', async () => {
    const key = await trustIssuedCredentials();
    assert.ok(sts.calls(ROLE) >= 1);
    const c = client('as-role');
    await c.connect();
    assert.equal((await c.query('SELECT current_user AS u')).rows[0].u, 'app_user');
    await c.end();
    const login = peer.logins.at(-1);
    assert.equal(login?.ok, true, JSON.stringify(login));
    const token = new URL(`https://${peer.tokens.at(-1)}`);
    assert.match(token.searchParams.get('X-Amz-Credential') ?? '', new RegExp(`^${key.accessKeyId}/`));
    assert.equal(token.searchParams.get('X-Amz-Security-Token'), key.sessionToken);

    // The same target without service: signs with the daemon's base key, which this "RDS" does not accept.
    await assert.rejects(client('as-base').connect(), (error: { code?: string }) => error.code === '28P01');
    assert.match(peer.logins.at(-1)?.reason ?? '', /AKIDSTSPEERBASE/);
  });

  test('a token is not cached beyond the credentials that signed it: credentials expiring within the margin sign every login', async () => {
    await trustIssuedCredentials();
    const misses = await metric('sidekey_pg_token_cache_total', '{outcome="miss",target="as-role"}');
    const hits = await metric('sidekey_pg_token_cache_total', '{outcome="hit",target="as-role"}');
    for (let i = 0; i < 2; i++) {
      await trustIssuedCredentials();
      const c = client('as-role');
      await c.connect();
      await c.end();
    }
    assert.equal(await metric('sidekey_pg_token_cache_total', '{outcome="miss",target="as-role"}'), misses + 2);
    assert.equal(await metric('sidekey_pg_token_cache_total', '{outcome="hit",target="as-role"}'), hits);
  });

  test('a pooled connection made with the role is reused without a new signature', async () => {
    await trustIssuedCredentials();
    const c1 = client('as-role-pooled');
    await c1.connect();
    const pid = (await c1.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await c1.end();
    await waitFor(() => (new Map(front().pool.idleCounts()).get('as-role-pooled') ?? 0) > 0, 'the connection to be parked', 3000);
    const logins = peer.logins.length;
    const c2 = client('as-role-pooled');
    await c2.connect();
    assert.equal((await c2.query('SELECT pg_backend_pid() AS pid')).rows[0].pid, pid);
    await c2.end();
    assert.equal(peer.logins.length, logins, 'no new login at the database');
  });

  test('no log line holds the session credentials or a token signature', () => {
    const signatures = peer.tokens.map((t) => new URL(`https://${t}`).searchParams.get('X-Amz-Signature') as string);
    assertNoSecrets(daemon.lines, [...signatures, ...sts.issuedSecrets(), STS_PEER_BASE_KEY.secretAccessKey]);
  });
});
