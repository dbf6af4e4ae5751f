/** Reading a JSON request body with a known set of fields; anything else is a 400 naming it. */
import type { IncomingMessage } from 'node:http';
import { SidekeyError } from '../core/errors.js';
import { MAX_REQUEST_BODY_BYTES } from '../core/secrets/secret-limits.js';
import { readBody } from '../net/read-body.js';

export async function readJsonBody(req: IncomingMessage, allowed: readonly string[], required = false): Promise<Record<string, unknown>> {
  const raw = await readBody(req, MAX_REQUEST_BODY_BYTES);
  if (raw.length === 0) {
    if (required) throw new SidekeyError('BAD_REQUEST', `a JSON body is required, with ${allowed.map((f) => `"${f}"`).join(' or ')}`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new SidekeyError('BAD_REQUEST', 'the body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new SidekeyError('BAD_REQUEST', 'the body must be a JSON object');
  for (const key of Object.keys(parsed)) {
    if (!allowed.includes(key)) {
      throw new SidekeyError(
        'BAD_REQUEST',
        `unknown field ${JSON.stringify(key.slice(0, 40))} in the body; allowed: ${allowed.join(', ')}`,
      );
    }
  }
  return parsed as Record<string, unknown>;
}
