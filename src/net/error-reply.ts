/**
 * The one way an HTTP front writes an error: the catalogue entry's status and a JSON body
 * `{"Code", "Message"}`. sidekey's own APIs (secrets, admin, the metadata guard) answer with the
 * stable `SK_...` code; the credential endpoint speaks the AWS container-credentials protocol and
 * answers with the entry's AWS code, which SDKs show to their users. An error whose message is not
 * safe to show is answered as an internal error with the entry's status, and nothing else.
 */
import type { ServerResponse } from 'node:http';
import { ErrorCodes, type ErrorKind, isSidekeyError, publicMessage } from '../core/errors.js';
import { sendJson } from './json-reply.js';

/** `sidekey` for sidekey's own APIs, `aws` where an AWS SDK is the client. */
export type ErrorForm = 'sidekey' | 'aws';

export interface ErrorAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** The status and body for `kind` with `message` (already judged safe to show). */
export function errorAnswer(kind: ErrorKind, message: string, form: ErrorForm = 'sidekey'): ErrorAnswer {
  const entry = ErrorCodes[kind];
  return { status: entry.status, body: { Code: form === 'aws' ? entry.aws : entry.code, Message: message } };
}

/** The status and body for any thrown value: its own kind and message when safe, else an internal error. */
export function errorAnswerOf(error: unknown, form: ErrorForm = 'sidekey'): ErrorAnswer & { readonly kind: ErrorKind } {
  const kind: ErrorKind = isSidekeyError(error) && error.expose ? error.kind : 'INTERNAL';
  const status = isSidekeyError(error) ? error.status : ErrorCodes.INTERNAL.status;
  return { kind, status, body: errorAnswer(kind, publicMessage(error), form).body };
}

/** Writes `kind` with `message`; returns the status sent. */
export function sendErrorKind(
  res: ServerResponse,
  kind: ErrorKind,
  message: string,
  form: ErrorForm = 'sidekey',
  headers: Record<string, string> = {},
): number {
  const answer = errorAnswer(kind, message, form);
  sendJson(res, answer.status, answer.body, headers);
  return answer.status;
}

/** Writes any thrown value as its catalogue entry says; returns the status sent. */
export function sendError(res: ServerResponse, error: unknown, form: ErrorForm = 'sidekey', headers: Record<string, string> = {}): number {
  const answer = errorAnswerOf(error, form);
  sendJson(res, answer.status, answer.body, headers);
  return answer.status;
}
