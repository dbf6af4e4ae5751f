/**
 * JSON-lines logging (pino) with redaction of every field that can carry a secret. Redaction
 * replaces the whole value: never a prefix or a length, which CredProxy's token prefixes leaked.
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import { FdLineWriter, LOG_FLUSH_INTERVAL_MS } from './fd-line-writer.js';

export type { Logger };

/**
 * Field names whose values are secret wherever they appear, compared case-insensitively at any
 * depth up to REDACT_DEPTH.
 */
export const SECRET_FIELDS = [
  'token',
  'auth_token',
  'authToken',
  'authorization',
  'password',
  'secret',
  'payload',
  'SecretAccessKey',
  'aws_secret_access_key',
  'secret_access_key',
  'SessionToken',
  'session_token',
  'aws_session_token',
  'dataKey',
  'data_key',
  'plaintext',
  'masterKey',
  'x-aws-ec2-metadata-token',
] as const;

/** How deep under the log object secret fields are still found. */
export const REDACT_DEPTH = 4;

const SECRET_KEYS: ReadonlySet<string> = new Set(SECRET_FIELDS.map((f) => f.toLowerCase()));

/** Most field names whose verdict is remembered (field names are mostly constants; callers may log others). */
const KEY_VERDICT_CACHE_SIZE = 4096;
const keyVerdicts = new Map<string, boolean>();

/** True when a field of this name holds a secret (any case). Remembered per name: no lower-casing per line. */
export function isSecretKey(key: string): boolean {
  const known = keyVerdicts.get(key);
  if (known !== undefined) return known;
  const secret = SECRET_KEYS.has(key.toLowerCase());
  if (keyVerdicts.size < KEY_VERDICT_CACHE_SIZE) keyVerdicts.set(key, secret);
  return secret;
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Returns `value` with every secret-named field replaced by REDACTED, copying only the objects on
 * the way to a replaced field (a log line with nothing to hide costs one walk, no allocation).
 * pino's own path-based redaction with wildcard paths costs many times a whole request; this walk
 * costs a small part of one.
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > REDACT_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = redactSecrets(value[i], depth + 1);
      if (next !== value[i]) {
        copy ??= value.slice();
        copy[i] = next;
      }
    }
    return copy ?? value;
  }
  if (!isPlain(value)) return value;
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    const current = record[key];
    const next = isSecretKey(key) ? REDACTED : redactSecrets(current, depth + 1);
    if (next !== current) {
      copy ??= { ...record };
      copy[key] = next;
    }
  }
  return copy ?? value;
}

export const REDACTED = '[redacted]';

/** Each secret field as written, in lower case and capitalized, as pino redact paths. */
function topLevelRedactPaths(): string[] {
  const names = new Set<string>();
  for (const field of SECRET_FIELDS) {
    for (const variant of [field, field.toLowerCase(), field[0]?.toUpperCase() + field.slice(1)]) names.add(variant);
  }
  return [...names].map((name) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : `["${name}"]`));
}

export interface LoggerOptions {
  level?: string;
  /** Where lines go; stdout when omitted. */
  destination?: DestinationStream;
  /** Base fields on every line. */
  base?: Record<string, unknown>;
}

/** A file descriptor or path (stdout by default), buffered, flushed on a timer and at exit. */
export function bufferedDestination(dest: number | string = 1): DestinationStream {
  const writer = new FdLineWriter(dest);
  setInterval(() => writer.flush(), LOG_FLUSH_INTERVAL_MS).unref();
  process.once('exit', () => writer.flushSync());
  return writer;
}

/** The last ISO timestamp: a busy daemon logs many lines per millisecond. */
let timeMs = -1;
let timeField = '';

/** pino's isoTime (`,"time":"2026-11-22T10:00:00.000Z"`), formatted once per millisecond. */
export function isoTimeCached(): string {
  const now = Date.now();
  if (now !== timeMs) {
    timeMs = now;
    timeField = `,"time":"${new Date(now).toISOString()}"`;
  }
  return timeField;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? bufferedDestination();
  return pino(
    {
      level: options.level ?? 'info',
      base: { ...(options.base ?? {}) },
      timestamp: isoTimeCached,
      messageKey: 'msg',
      // Top-level paths only (cheap): this is what also covers child-logger bindings, which
      // formatters.log never sees; nested fields are handled by redactSecrets below.
      redact: { paths: topLevelRedactPaths(), censor: REDACTED },
      serializers: { err: serializeError },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactSecrets(object) as Record<string, unknown>,
      },
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
