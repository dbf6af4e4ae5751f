/**
 * JSON-lines logging (pino) with redaction of every field that can carry a secret. Redaction
 * replaces the whole value: never a prefix or a length, which CredProxy's token prefixes leaked.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/** Field names whose values are secret wherever they appear (matched at any of the first levels). */
export const SECRET_FIELDS = [
  'token',
  'auth_token',
  'authToken',
  'authorization',
  'Authorization',
  'password',
  'secret',
  'payload',
  'SecretAccessKey',
  'secretAccessKey',
  'aws_secret_access_key',
  'secret_access_key',
  'Token',
  'SessionToken',
  'sessionToken',
  'session_token',
  'aws_session_token',
  'dataKey',
  'data_key',
  'plaintext',
  'Plaintext',
  'masterKey',
  'x-aws-ec2-metadata-token',
  'X-aws-ec2-metadata-token',
] as const;

/** How deep under the log object a secret field is still found (pino paths are explicit). */
const REDACT_DEPTH = 3;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const field of SECRET_FIELDS) {
    const key = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
    let prefix = '';
    for (let depth = 0; depth < REDACT_DEPTH; depth++) {
      paths.push(prefix === '' ? key : `${prefix}${key.startsWith('[') ? key : `.${key}`}`);
      prefix = `${prefix}${prefix === '' ? '*' : '.*'}`;
    }
  }
  return paths;
}

export const REDACTED = '[redacted]';

export interface LoggerOptions {
  level?: string;
  /** Where lines go; stdout when omitted. */
  destination?: DestinationStream;
  /** Base fields on every line. */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level ?? 'info',
      base: { ...(options.base ?? {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      redact: { paths: redactPaths(), censor: REDACTED },
      serializers: { err: serializeError },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/**
 * Errors are logged by code, name and message, with their cause chain; never with the whole
 * object (AWS SDK errors carry request and response metadata that may echo credentials).
 */
export function serializeError(error: unknown, depth = 0): Record<string, unknown> {
  if (!(error instanceof Error)) {
    // Already serialized (callers may pass serializeError's output): keep it as it is.
    if (error && typeof error === 'object' && 'message' in error) return error as Record<string, unknown>;
    return { message: String(error) };
  }
  const out: Record<string, unknown> = { type: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status !== undefined) out.status = status;
  if (error.cause !== undefined && depth < 3) out.cause = serializeError(error.cause, depth + 1);
  return out;
}

/** A logger that drops everything (for CLI commands that print their own output). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
