import { Writable } from 'node:stream';
import type { DestinationStream } from 'pino';
import { createLogger, type Logger, REDACTED } from '../../src/core/log/logger.js';

/** A real pino logger whose JSON lines are kept in memory, for assertions on logs. */
export function captureLogger(level = 'debug'): { logger: Logger; lines: string[]; entries: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  let partial = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level, destination: sink as unknown as DestinationStream });
  return { logger, lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** The keys of a JSON line's top-level object, in order, repeats kept (JSON.parse keeps only the last). */
export function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let end = i + 1;
      while (line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      if (depth === 1 && line[end + 1] === ':') keys.push(JSON.parse(line.slice(i, end + 1)) as string);
      i = end;
    }
  }
  return keys;
}

/** Fails if the line writes a field twice (a log pipeline may keep either value); returns its keys. */
function assertFieldsOnce(line: string): string[] {
  const keys = topLevelKeys(line);
  if (new Set(keys).size !== keys.length) throw new Error(`a log line writes a field twice: ${line.slice(0, 300)}`);
  return keys;
}

/**
 * What every line a daemon writes must be: each field once, and no audit line with a redacted
 * field (audit fields never hold secrets, so a redacted one is a field named like a secret, whose
 * fact, such as which secret was read, is lost). The daemon harness checks this at every stop.
 */
export function assertDaemonLines(lines: readonly string[]): void {
  for (const line of lines) {
    const keys = assertFieldsOnce(line);
    if (keys.includes('audit') && line.includes(`"${REDACTED}"`))
      throw new Error(`an audit line has a redacted field: ${line.slice(0, 300)}`);
  }
}

/** Fails with the offending line if any captured line contains one of the secrets or writes a field twice. */
export function assertNoSecrets(lines: readonly string[], secrets: readonly string[]): void {
  for (const line of lines) {
    assertFieldsOnce(line);
    for (const secret of secrets) {
      if (secret.length >= 8 && line.includes(secret)) throw new Error(`a log line contains a secret: ${line.slice(0, 200)}`);
      // A prefix of a secret is a leak too (CredProxy logged token prefixes).
      if (secret.length >= 16 && line.includes(secret.slice(0, 8)))
        throw new Error(`a log line contains a secret's prefix: ${line.slice(0, 200)}`);
    }
  }
}
