/** Shared set-up for credential endpoint tests: config text, plain HTTP requests, waiting. */
import { type Agent, request } from 'node:http';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { baseKeyDefaults } from '../peers/sts-peer.js';

export const ROLE_WEB = 'arn:aws:iam::123456789012:role/web';
export const ROLE_WORKER = 'arn:aws:iam::123456789012:role/worker';
export const TOKEN_WEB = randomToken();
export const TOKEN_WORKER = randomToken();

export interface ServiceSpec {
  role: string;
  token?: string;
  tokenFile?: string;
  duration?: number;
  extra?: Record<string, unknown>;
  assumed?: Record<string, unknown>;
}

/** A daemon config (JSON is YAML) with every listener on 127.0.0.1:0 and STS pointed at the peer. */
export function daemonConfig(stsUrl: string, services: Record<string, ServiceSpec>, top: Record<string, unknown> = {}): string {
  const { credentials, ...rest } = top;
  return JSON.stringify({
    server: { listeners: ['127.0.0.1:0'] },
    admin: { listen: '127.0.0.1:0' },
    credentials: { sts_endpoint: stsUrl, ...((credentials as object) ?? {}) },
    aws_defaults: baseKeyDefaults('us-east-1'),
    services: Object.fromEntries(
      Object.entries(services).map(([name, s]) => [
        name,
        {
          ...(s.tokenFile ? { auth_token_file: s.tokenFile } : { auth_token: s.token ?? randomToken() }),
          assumed_role: { RoleArn: s.role, ...(s.duration ? { DurationSeconds: s.duration } : {}), ...(s.assumed ?? {}) },
          ...(s.extra ?? {}),
        },
      ]),
    ),
    ...rest,
  });
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
  /** True when the request went over a connection an earlier request used (keep-alive). */
  reusedSocket: boolean;
}

/**
 * A raw HTTP request (fetch cannot set Host); `headers` may override Host. A fresh connection
 * unless `agent` (e.g. a keep-alive Agent) says otherwise.
 */
export function httpRequest(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
  agent: Agent | false = false,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json: () => JSON.parse(text) as Record<string, unknown>,
          reusedSocket: req.reusedSocket,
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export function getCredentials(baseUrl: string, token: string | undefined, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return httpRequest(`${baseUrl}/v1/credentials`, { ...(token === undefined ? {} : { authorization: token }), ...headers });
}

export const RFC3339_NO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
