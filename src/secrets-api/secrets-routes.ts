/**
 * The REST routes (docs/secrets.md has examples). ecs-secrets' four routes keep their shape; the
 * rest follow the same pattern. Every route exists under both `/latest/` and `/v1/`.
 *
 * | method | path                         | operation | role           |
 * |--------|------------------------------|-----------|----------------|
 * | GET    | /secrets                     | list      | admin, reader  |
 * | GET    | /secrets/{name}[/{serial}]   | fetch     | reader         |
 * | POST   | /secrets/{name}              | create    | admin          |
 * | DELETE | /secrets/{name}?confirm=NAME | delete    | admin          |
 * | POST   | /revoke/{name}/{serial}      | revoke    | admin          |
 * | GET    | /history/{name}              | history   | admin, reader  |
 * | POST   | /restore/{name}/{serial}     | restore   | admin          |
 * | POST   | /rotate/{name}               | rotate    | admin          |
 */
import { SidekeyError } from '../core/errors.js';

export type Operation = 'list' | 'fetch' | 'create' | 'delete' | 'revoke' | 'history' | 'restore' | 'rotate';
export type Role = 'admin' | 'reader';

/** Which roles may run each operation: ecs-secrets' privilege separation (admins write, readers fetch). */
export const OPERATION_ROLES: Readonly<Record<Operation, readonly Role[]>> = {
  list: ['admin', 'reader'],
  history: ['admin', 'reader'],
  fetch: ['reader'],
  create: ['admin'],
  delete: ['admin'],
  revoke: ['admin'],
  restore: ['admin'],
  rotate: ['admin'],
};

export const API_PREFIXES = ['latest', 'v1'] as const;

export interface Route {
  readonly operation: Operation;
  /** Raw (still unvalidated) path parameters. */
  readonly name: string | undefined;
  readonly serial: string | undefined;
}

type Shape = { readonly [method: string]: Operation };

/** Path shapes by resource and segment count, then method. */
const SHAPES: Readonly<Record<string, Readonly<Record<number, Shape>>>> = {
  secrets: { 0: { GET: 'list' }, 1: { GET: 'fetch', POST: 'create', DELETE: 'delete' }, 2: { GET: 'fetch' } },
  revoke: { 2: { POST: 'revoke' } },
  history: { 1: { GET: 'history' } },
  restore: { 2: { POST: 'restore' } },
  rotate: { 1: { POST: 'rotate' } },
};

function decodeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new SidekeyError('BAD_REQUEST', 'the path has a malformed percent-encoding');
  }
}

/** Matches a request path; throws NOT_FOUND or METHOD_NOT_ALLOWED (with the allowed methods). */
export function matchRoute(method: string, path: string): Route {
  const segments = path.split('/');
  // "", prefix, resource, ...params
  const prefix = segments[1] ?? '';
  const resource = segments[2] ?? '';
  const params = segments.slice(3);
  if (params.at(-1) === '') params.pop(); // one trailing slash is tolerated
  const shape = (API_PREFIXES as readonly string[]).includes(prefix) ? SHAPES[resource]?.[params.length] : undefined;
  if (!shape || params.some((p) => p === '')) {
    throw new SidekeyError(
      'NOT_FOUND',
      `no route ${method} ${path.slice(0, 200)}; see docs/secrets.md for the routes under /latest/ and /v1/`,
    );
  }
  const operation = shape[method === 'HEAD' ? 'GET' : method];
  if (!operation) {
    throw new SidekeyError(
      'METHOD_NOT_ALLOWED',
      `${method} is not allowed on ${path.slice(0, 200)}; allowed: ${Object.keys(shape).join(', ')}`,
      {
        details: { allow: Object.keys(shape).join(', ') },
      },
    );
  }
  // One shape for every route (absent parameters are undefined): Node 20 builds spread objects slowly.
  return {
    operation,
    name: params[0] === undefined ? undefined : decodeSegment(params[0]),
    serial: params[1] === undefined ? undefined : decodeSegment(params[1]),
  };
}
