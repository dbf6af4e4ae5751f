/** Set-up for metadata guard tests: an IMDS peer, a real daemon whose guard fronts it, comparisons. */
import assert from 'node:assert/strict';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { type ImdsPeer, PEER_INSTANCE_SECRETS, startImdsPeer } from '../peers/imds-peer.js';
import { type RawAnswer, rawGet } from './raw-http.js';

export interface GuardUnderTest {
  readonly peer: ImdsPeer;
  readonly running: RunningDaemon;
  /** The guard's port on 127.0.0.1. */
  readonly port: number;
  readonly peerPort: number;
  stop(): Promise<void>;
}

/** The daemon config (JSON is YAML): admin and guard on 127.0.0.1:0, upstream the peer. */
export function guardConfig(upstream: string, imds: Record<string, unknown> = {}, top: Record<string, unknown> = {}): string {
  return JSON.stringify({ admin: { listen: '127.0.0.1:0' }, imds: { listen: '127.0.0.1:0', upstream, ...imds }, ...top });
}

export async function startGuard(imds: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Promise<GuardUnderTest> {
  const peer = await startImdsPeer();
  const running = await startDaemon(guardConfig(peer.url, imds, top));
  const address = running.address('imds');
  if (address.kind !== 'tcp') throw new Error('expected a TCP guard');
  return {
    peer,
    running,
    port: address.port,
    peerPort: Number(new URL(peer.url).port),
    stop: async () => {
      await running.stop();
      await peer.close();
    },
  };
}

/** The guard refused: a 4xx answer of its own (JSON with a catalogue code), never an upstream body. */
export function assertRefused(answer: RawAnswer, what: string, statuses: readonly number[] = [400, 401, 403]): void {
  assert.ok(
    statuses.includes(answer.status),
    `${what}: expected one of ${statuses.join('/')}, got ${answer.status} ${answer.body.slice(0, 120)}`,
  );
  assert.match(answer.body, /"Code":"SK_[A-Z_]+"/, `${what}: not the guard's own refusal: ${answer.body.slice(0, 120)}`);
  assertNoInstanceSecret(answer.body, what);
}

export function assertNoInstanceSecret(text: string, what: string): void {
  for (const secret of Object.values(PEER_INSTANCE_SECRETS)) assert.ok(!text.includes(secret), `${what}: an instance secret came through`);
}

/** The guard answered exactly as the upstream answers `canonical` when asked directly. */
export async function assertSameAsUpstream(g: GuardUnderTest, answer: RawAnswer, canonical: string, what: string): Promise<void> {
  const direct = await rawGet(g.peerPort, canonical);
  assert.equal(answer.status, direct.status, `${what}: status differs from the upstream's for ${canonical}`);
  assert.equal(answer.body, direct.body, `${what}: body differs from the upstream's for ${canonical}`);
  assert.equal(answer.headers['content-type'], direct.headers['content-type'], `${what}: content-type differs`);
  assert.equal(answer.headers.location, direct.headers.location, `${what}: location differs`);
  assertNoInstanceSecret(answer.body, what);
}

/** Nothing forbidden reached the peer, under any reading a lenient server could give a path. */
export function assertNothingForbiddenReached(peer: ImdsPeer): void {
  assert.deepEqual(
    peer.forbiddenReached().map((r) => `${r.method} ${r.url}`),
    [],
    'forbidden requests reached the metadata service',
  );
  assert.deepEqual(peer.servedForbidden, [], 'the metadata service served a forbidden path');
}

export type Expectation = 'refused' | { readonly same: string };

/** Sends each raw target and checks it is refused or answered exactly like its canonical path. */
export async function checkVariants(
  g: GuardUnderTest,
  variants: readonly (readonly [target: string, expect: Expectation])[],
  headerLines: readonly string[] = [],
  method = 'GET',
): Promise<void> {
  for (const [target, expect] of variants) {
    const answer = await rawGet(g.port, target, headerLines, { method });
    const what = `${method} ${JSON.stringify(target)}`;
    if (expect === 'refused') assertRefused(answer, what);
    else await assertSameAsUpstream(g, answer, expect.same, what);
  }
  assertNothingForbiddenReached(g.peer);
}
