import { Writable } from 'node:stream';
import type { DestinationStream } from 'pino';
import { createLogger, type Logger } from '../../src/core/log/logger.js';

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

/** Fails with the offending line if any captured line contains one of the secrets. */
export function assertNoSecrets(lines: readonly string[], secrets: readonly string[]): void {
  for (const line of lines) {
    for (const secret of secrets) {
      if (secret.length >= 8 && line.includes(secret)) throw new Error(`a log line contains a secret: ${line.slice(0, 200)}`);
      // A prefix of a secret is a leak too (CredProxy logged token prefixes).
      if (secret.length >= 16 && line.includes(secret.slice(0, 8)))
        throw new Error(`a log line contains a secret's prefix: ${line.slice(0, 200)}`);
    }
  }
}
