/**
 * Per-caller mode: a mapped caller asking for `.../meta-data/iam/security-credentials/` gets its
 * service's role name, and `.../ROLE` that service's cached credentials in IMDS's JSON shape.
 * Nothing here ever reaches the metadata service: the instance's own credentials never pass.
 * Every such answer needs an IMDSv2 token issued through the guard to this same address while it
 * mapped to this same service, whatever `require_token` says for the paths that go to IMDS: the
 * source address alone would hand a departed container's credentials to whatever container
 * inherits its address (source-IP reuse inherits nothing), and every SDK since 2019 asks for a
 * token first.
 */

import type { CredentialBroker } from '../core/credentials/credential-broker.js';
import type { CanonicalTarget } from '../core/imds/canonical-target.js';
import { isVersionSegment } from '../core/imds/canonical-target.js';
import { IMDS_HTML_TYPE, IMDS_MOVED_BODY, IMDS_NOT_FOUND_BODY, IMDS_TEXT_TYPE } from '../core/imds/imds-answers.js';
import { imdsCredentialsDocument, roleNameOf } from '../core/imds/imds-credentials-document.js';
import type { TokenBindings } from '../core/imds/token-bindings.js';
import { TOKEN_HEADER } from '../core/imds/token-headers.js';
import { errorAnswerOf } from '../net/error-reply.js';
import { type CallerEntry, plainAddress } from './caller-map.js';
import { errorReply, type GuardReply } from './guard-reply.js';

/** The credential paths a caller may ask for: `/VERSION/meta-data/iam/security-credentials[/[ROLE]]`. */
export function isCallerCredentialsPath(target: CanonicalTarget): boolean {
  const [version, a, b, c] = target.segments.map((s) => s.toLowerCase());
  return version !== undefined && a === 'meta-data' && b === 'iam' && c?.startsWith('security-credentials') === true;
}

export interface CallerRequest {
  readonly target: CanonicalTarget;
  readonly caller: CallerEntry | undefined;
  readonly remote: string | undefined;
  readonly token: string | undefined;
}

const html = (status: number, body: string, path: string, service: string, extra: [string, string][] = []): GuardReply => ({
  status,
  headers: [['Content-Type', IMDS_HTML_TYPE], ...extra],
  body: Buffer.from(body),
  decision: 'caller',
  rule: `caller:${service}`,
  path,
  caller: service,
});

export async function answerCallerCredentials(
  request: CallerRequest,
  broker: CredentialBroker,
  tokens: TokenBindings,
): Promise<GuardReply> {
  const { target, caller } = request;
  const path = target.path;
  if (!caller)
    return errorReply('IMDS_DENIED', 'this address is not mapped to a service (imds.callers)', {
      decision: 'deny',
      rule: 'caller:unmapped',
      path,
    });
  const service = caller.service;
  if (request.token === undefined) {
    return errorReply(
      'UNAUTHORIZED',
      `per-caller credentials need a token (PUT /latest/api/token through the guard, then send ${TOKEN_HEADER})`,
      {
        decision: 'refuse',
        rule: 'caller:token-required',
        path,
        caller: service,
      },
    );
  }
  const binding = tokens.lookup(request.token);
  if (!binding || binding.address !== plainAddress(request.remote ?? '') || binding.service !== service) {
    return errorReply('UNAUTHORIZED', 'the token was not issued through the guard to this caller', {
      decision: 'refuse',
      rule: 'caller:token-mismatch',
      path,
      caller: service,
    });
  }
  const roleArn = broker.roleArn(service);
  if (roleArn === undefined) {
    return errorReply('CREDENTIALS_UNAVAILABLE', `service ${service} is not configured`, {
      decision: 'error',
      rule: `caller:${service}`,
      path,
      caller: service,
    });
  }
  const role = roleNameOf(roleArn);
  const [version, , , leaf, ...rest] = target.segments;
  if (version === undefined || !isVersionSegment(version) || leaf !== 'security-credentials')
    return html(404, IMDS_NOT_FOUND_BODY, path, service);
  if (rest.length === 0) {
    if (!target.trailingSlash) return html(301, IMDS_MOVED_BODY, path, service, [['Location', `${path}/`]]);
    return {
      status: 200,
      headers: [['Content-Type', IMDS_TEXT_TYPE]],
      body: Buffer.from(role),
      decision: 'caller',
      rule: `caller:${service}`,
      path,
      caller: service,
    };
  }
  if (rest.length > 1 || rest[0] !== role || target.trailingSlash) return html(404, IMDS_NOT_FOUND_BODY, path, service);
  try {
    const creds = await broker.get(service);
    const lastRefresh = broker.status().find((s) => s.service === service)?.lastRefresh ?? new Date();
    const body = Buffer.from(imdsCredentialsDocument(creds, lastRefresh));
    return {
      status: 200,
      headers: [
        ['Content-Type', IMDS_TEXT_TYPE],
        ['Cache-Control', 'no-store'],
      ],
      body,
      decision: 'caller',
      rule: `caller:${service}`,
      path,
      caller: service,
    };
  } catch (error) {
    const facts = { decision: 'error', rule: `caller:${service}`, path, caller: service } as const;
    const answer = errorAnswerOf(error);
    return errorReply(answer.kind, String(answer.body.Message), facts, answer.status);
  }
}
