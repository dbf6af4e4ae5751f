/**
 * The deployment files, checked statically (no container engine here): each parses, and ports,
 * users, paths, secrets and health checks agree with the config defaults and deploy/sidekey.yaml.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { formatListenAddress } from '../../src/core/config/listen-address.js';
import { DEFAULT_ADMIN_LISTEN } from '../../src/core/config/sections/admin-section.js';
import { DEFAULT_ENDPOINT_PORT, endpointListeners } from '../../src/core/config/sections/credentials-section.js';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { SIDEKEY_UID } from '../../src/core/hygiene/check-process.js';
import { runChecks } from '../../src/core/hygiene/run-checks.js';
import { materialize, readRepoFile } from './example-config.js';

const ADMIN = `http://${formatListenAddress(DEFAULT_ADMIN_LISTEN)}`;
const HEALTH = `${ADMIN}/health`;
const FULL_URI = `http://127.0.0.1:${DEFAULT_ENDPOINT_PORT}/v1/credentials`;
const USER = `${SIDEKEY_UID}:${SIDEKEY_UID}`;
const STATE = '/var/lib/sidekey';
const BIN = JSON.parse(readRepoFile('package.json')).bin.sidekey as string;

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(): { op: string; args: string }[] {
  const text = readRepoFile('deploy/Dockerfile').replace(/\\\n\s*/g, ' ');
  return text
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.trim().split(/\s+/);
      return { op: (op as string).toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions a stage runs, its parents' first (`FROM base AS runtime` includes base's). */
function stage(lines: { op: string; args: string }[], name: string): { op: string; args: string }[] {
  const at = lines.findIndex((l) => l.op === 'FROM' && l.args.endsWith(` AS ${name}`));
  assert.ok(at >= 0, `a stage named ${name}`);
  const next = lines.findIndex((l, i) => i > at && l.op === 'FROM');
  const own = lines.slice(at, next < 0 ? undefined : next);
  const parent = (own[0] as { args: string }).args.split(' ')[0] as string;
  const isStage = lines.some((l) => l.op === 'FROM' && l.args.endsWith(` AS ${parent}`));
  return isStage ? [...stage(lines, parent), ...own] : own;
}

/** Token files the deploy config reads: /run/secrets/NAME -> NAME. */
const secretNames = (yaml: string) => [...yaml.matchAll(/\/run\/secrets\/([\w.-]+)/g)].map((m) => m[1] as string).sort();

test('deploy/sidekey.yaml: loopback listeners on the default ports, state under /var/lib/sidekey, no failing check', async () => {
  const text = readRepoFile('deploy/sidekey.yaml');
  const m = materialize(text);
  try {
    const { config } = m.loaded;
    assert.deepEqual(endpointListeners(config.server).map(formatListenAddress), [`127.0.0.1:${DEFAULT_ENDPOINT_PORT}`]);
    assert.deepEqual(config.admin.listen, DEFAULT_ADMIN_LISTEN);
    const failures = (await runChecks(m.loaded, { env: {}, uid: SIDEKEY_UID, online: false })).filter((f) => f.severity === 'fail');
    assert.deepEqual(failures, []);
  } finally {
    m.remove();
  }
  assert.match(text, /path: \/var\/lib\/sidekey\/secrets\.db/);
  assert.match(text, /key_file: \/var\/lib\/sidekey\/master\.key/);
  assert.deepEqual(secretNames(text), ['app-token', 'sidekey-admin-token']);
});

test('Dockerfile: multi-stage, small base, user 1338, state volume, health check on the admin port, the real entry point', () => {
  const lines = dockerfile();
  const froms = lines.filter((l) => l.op === 'FROM');
  assert.ok(froms.length >= 2, 'multi-stage');
  // The image runs the Node major that CI runs the whole suite on besides the machine's own.
  const ciMajor = /NODE24_MAJOR=(\d+)/.exec(readRepoFile('.ci/run'))?.[1];
  assert.equal(ciMajor, '24', 'CI tests the current LTS');
  assert.equal(froms[0]?.args, `node:${ciMajor}-bookworm-slim AS build`);
  assert.match(froms.at(-1)?.args ?? '', / AS runtime$/, 'the default target (the last stage) is the daemon');
  const runtime = stage(lines, 'runtime');
  assert.equal(stage(lines, 'base')[0]?.args, `gcr.io/distroless/nodejs${ciMajor}-debian12 AS base`);
  assert.deepEqual(
    runtime.filter((l) => l.op === 'USER').map((l) => l.args),
    [USER],
  );
  assert.ok(runtime.some((l) => l.op === 'VOLUME' && l.args.includes(`"${STATE}"`)));
  assert.ok(
    runtime.some((l) => l.op === 'COPY' && l.args.includes(`--chown=${USER}`) && l.args.endsWith(STATE)),
    'the state dir belongs to 1338',
  );
  const health = runtime.find((l) => l.op === 'HEALTHCHECK');
  assert.ok(health?.args.includes(HEALTH), `HEALTHCHECK must hit ${HEALTH}`);
  const entry = JSON.parse(runtime.find((l) => l.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
  assert.equal(entry[1], `/opt/sidekey/${BIN}`);
  assert.deepEqual(JSON.parse(runtime.find((l) => l.op === 'CMD')?.args ?? '[]'), ['serve', '--config', '/etc/sidekey/sidekey.yaml']);
  assert.ok(runtime.some((l) => l.op === 'COPY' && l.args.endsWith('deploy/sidekey.yaml /etc/sidekey/sidekey.yaml')));
  assert.ok(!lines.some((l) => l.op === 'ENV' && /AWS_(ACCESS|SECRET|SESSION)/.test(l.args)), 'no credentials baked into the image');
});

test("Dockerfile: the ecs-secrets target is the same image with ecs-secrets' entry point", () => {
  const lines = stage(dockerfile(), 'ecs-secrets');
  const entry = JSON.parse(lines.find((l) => l.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
  assert.equal(entry[1], `/opt/sidekey/${JSON.parse(readRepoFile('package.json')).bin['ecs-secrets']}`);
  assert.ok(!lines.some((l) => l.op === 'CMD'), 'no command of its own: a task definition gives daemon, create, ...');
  assert.deepEqual(
    lines.filter((l) => l.op === 'USER').map((l) => l.args),
    [USER],
  );
  assert.ok(lines.some((l) => l.op === 'EXPOSE' && l.args === '8080'));
});

test('docker-compose.yml: the app shares sidekey network namespace; both hardened; secrets as files', () => {
  const compose = parse(readRepoFile('deploy/docker-compose.yml')) as {
    services: Record<string, Record<string, unknown>>;
    secrets: Record<string, { file: string }>;
  };
  const sidekey = compose.services.sidekey as Record<string, unknown>;
  const app = compose.services.app as Record<string, unknown>;
  for (const service of [sidekey, app]) {
    assert.equal(service.read_only, true);
    assert.deepEqual(service.cap_drop, ['ALL']);
    assert.deepEqual(service.security_opt, ['no-new-privileges:true']);
    assert.ok((service.tmpfs as string[]).some((t) => t.startsWith('/tmp')));
  }
  assert.equal(sidekey.user, USER);
  assert.ok((sidekey.volumes as string[]).some((v) => v.endsWith(`:${STATE}`)));
  assert.deepEqual([...(sidekey.secrets as string[])].sort(), secretNames(readRepoFile('deploy/sidekey.yaml')));
  assert.equal(app.network_mode, 'service:sidekey');
  assert.deepEqual(app.depends_on, { sidekey: { condition: 'service_healthy' } });
  const env = app.environment as Record<string, string>;
  assert.equal(env.AWS_CONTAINER_CREDENTIALS_FULL_URI, FULL_URI);
  assert.equal(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, `/run/secrets/${(app.secrets as string[])[0]}`);
  for (const name of [...(sidekey.secrets as string[]), ...(app.secrets as string[])])
    assert.ok(compose.secrets[name]?.file, `secret ${name} is a file`);
});

test('ecs-task-definition.json: sidekey sidecar, HEALTHY dependency, tokens through secrets matching sidekey-ecs.yaml', () => {
  const task = JSON.parse(readRepoFile('deploy/ecs-task-definition.json')) as {
    networkMode: string;
    containerDefinitions: Record<string, any>[];
  };
  assert.equal(task.networkMode, 'awsvpc', 'containers of the task share 127.0.0.1');
  const [sidekey, app] = ['sidekey', 'app'].map((n) => task.containerDefinitions.find((c) => c.name === n) as Record<string, any>);
  assert.ok(sidekey && app);
  assert.equal(sidekey.user, USER);
  assert.equal(sidekey.readonlyRootFilesystem, true);
  assert.deepEqual(sidekey.linuxParameters.capabilities.drop, ['ALL']);
  assert.ok(sidekey.healthCheck.command.join(' ').includes(HEALTH));
  assert.deepEqual(
    sidekey.mountPoints.map((m: { containerPath: string }) => m.containerPath),
    [STATE],
  );
  assert.deepEqual(sidekey.command, ['serve', '--config', '/etc/sidekey/sidekey-ecs.yaml']);
  const ecsConfig = readRepoFile('deploy/sidekey-ecs.yaml');
  const envRefs = [...ecsConfig.matchAll(/\$\{fromEnv:(\w+)\}/g)].map((m) => m[1]).sort();
  assert.deepEqual(sidekey.secrets.map((s: { name: string }) => s.name).sort(), envRefs);
  assert.deepEqual(app.dependsOn, [{ containerName: 'sidekey', condition: 'HEALTHY' }]);
  assert.equal(app.environment.find((e: { name: string }) => e.name === 'AWS_CONTAINER_CREDENTIALS_FULL_URI').value, FULL_URI);
  const appToken = app.secrets.find((s: { name: string }) => s.name === 'AWS_CONTAINER_AUTHORIZATION_TOKEN').valueFrom;
  assert.equal(
    appToken,
    sidekey.secrets.find((s: { name: string }) => s.name === 'SIDEKEY_APP_TOKEN').valueFrom,
    'the app presents the token sidekey expects',
  );
});

test('deploy/sidekey-ecs.yaml loads with its environment and has no failing check', async () => {
  const m = materialize(readRepoFile('deploy/sidekey-ecs.yaml'), {
    env: { SIDEKEY_APP_TOKEN: randomToken(), SIDEKEY_ADMIN_TOKEN: randomToken() },
  });
  try {
    assert.deepEqual(m.loaded.config.admin.listen, DEFAULT_ADMIN_LISTEN);
    const failures = (await runChecks(m.loaded, { env: {}, uid: SIDEKEY_UID, online: false })).filter((f) => f.severity === 'fail');
    assert.deepEqual(failures, []);
  } finally {
    m.remove();
  }
});

test('kubernetes-pod.yaml: sidecar as 1338, read-only root, no capabilities, tokens from a Secret volume, probes from inside', () => {
  const pod = parse(readRepoFile('deploy/kubernetes-pod.yaml')) as { spec: Record<string, any> };
  const sidekey = pod.spec.containers.find((c: { name: string }) => c.name === 'sidekey');
  const app = pod.spec.containers.find((c: { name: string }) => c.name === 'app');
  assert.equal(sidekey.securityContext.runAsUser, SIDEKEY_UID);
  assert.equal(sidekey.securityContext.readOnlyRootFilesystem, true);
  assert.equal(sidekey.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(sidekey.securityContext.capabilities.drop, ['ALL']);
  const mounts = Object.fromEntries(sidekey.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
  const tokensVolume = pod.spec.volumes.find((v: { name: string }) => v.name === mounts['/run/secrets']);
  assert.ok(tokensVolume?.secret, 'tokens come from a Secret volume at /run/secrets');
  assert.ok(mounts[STATE]);
  for (const probe of [sidekey.livenessProbe, sidekey.readinessProbe]) assert.ok(probe.exec.command.join(' ').includes(ADMIN));
  assert.equal(app.env.find((e: { name: string }) => e.name === 'AWS_CONTAINER_CREDENTIALS_FULL_URI').value, FULL_URI);
  assert.equal(app.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(app.securityContext.capabilities.drop, ['ALL']);
});

test('sidekey.service: hardened systemd unit', () => {
  const unit = new Map<string, string[]>();
  for (const line of readRepoFile('deploy/sidekey.service').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) unit.set(m[1] as string, [...(unit.get(m[1] as string) ?? []), m[2] as string]);
  }
  const one = (key: string) => unit.get(key)?.at(-1);
  assert.equal(one('DynamicUser'), 'yes');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('PrivateTmp'), 'yes');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('CapabilityBoundingSet'), '', 'no capabilities (none needed on loopback ports)');
  assert.deepEqual(one('RestrictAddressFamilies')?.split(' ').sort(), ['AF_INET', 'AF_INET6', 'AF_UNIX']);
  assert.equal(`/var/lib/${one('StateDirectory')}`, STATE);
  assert.equal(one('StateDirectoryMode'), '0700');
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.match(one('ExecStart') ?? '', new RegExp(`/opt/sidekey/${BIN.replace(/\./g, '\\.')} serve --config /etc/sidekey/sidekey.yaml$`));
  const credentials = (unit.get('LoadCredential') ?? []).map((c) => c.split(':')[0]).sort();
  assert.deepEqual(credentials, secretNames(readRepoFile('deploy/sidekey.yaml')));
});
