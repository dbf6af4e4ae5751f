/**
 * The shared half of AWS Query-protocol test peers (IAM, CloudFormation): form-encoded POST in,
 * XML out, every request's SigV4 signature verified for the peer's service before an action
 * handler sees it. Errors use the `ErrorResponse` shape the SDK parses.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackHttpPeer } from './loopback-http.js';
import { type KnownKey, verifyRequest } from './sigv4-verifier.js';

/** The largest request body a peer reads (templates included). */
const MAX_BODY_BYTES = 1024 * 1024; // 1 MiB

export function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export class QueryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type ActionHandler = (params: URLSearchParams, caller: KnownKey) => string | Promise<string>;

export interface QueryPeerOptions {
  readonly service: string;
  readonly xmlns: string;
  readonly version: string;
  readonly keys: readonly KnownKey[];
  readonly actions: Readonly<Record<string, ActionHandler>>;
}

export class QueryProtocolPeer extends LoopbackHttpPeer {
  readonly #keys: Map<string, KnownKey>;
  /** Actions that verified, in order. */
  readonly calls: { action: string; params: URLSearchParams }[] = [];
  /** Requests refused for their signature. */
  refusedSignatures = 0;

  constructor(readonly options: QueryPeerOptions) {
    super();
    this.#keys = new Map(options.keys.map((k) => [k.accessKeyId, k]));
  }

  protected serve(req: IncomingMessage, res: ServerResponse): void {
    this.#handle(req, res).catch((error: unknown) => this.#error(res, new QueryError(500, 'InternalFailure', String(error))));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) return this.#error(res, new QueryError(413, 'RequestEntityTooLarge', 'body too large'));
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const verified = verifyRequest(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body },
      { keys: this.#keys, service: this.options.service },
    );
    if (!verified.ok) {
      this.refusedSignatures++;
      return this.#error(res, new QueryError(403, verified.code, verified.message));
    }
    const params = new URLSearchParams(body.toString('utf8'));
    const action = params.get('Action') ?? '';
    if (params.get('Version') !== this.options.version)
      return this.#error(res, new QueryError(400, 'InvalidParameterValue', `Version must be ${this.options.version}`));
    const handler = this.options.actions[action];
    if (!handler) return this.#error(res, new QueryError(400, 'InvalidAction', `Could not find operation ${action}`));
    this.calls.push({ action, params });
    try {
      const result = await handler(params, verified.key);
      const xml = `<${action}Response xmlns="${this.options.xmlns}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
      res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml) });
      res.end(xml);
    } catch (error) {
      this.#error(res, error instanceof QueryError ? error : new QueryError(500, 'InternalFailure', String(error)));
    }
  }

  #error(res: ServerResponse, error: QueryError): void {
    const xml = `<ErrorResponse xmlns="${this.options.xmlns}"><Error><Type>${error.status < 500 ? 'Sender' : 'Receiver'}</Type><Code>${xmlEscape(error.code)}</Code><Message>${xmlEscape(error.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
    res.writeHead(error.status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml) });
    res.end(xml);
  }
}
