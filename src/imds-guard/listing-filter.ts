/**
 * A relayed IMDS listing (`/`, `/latest/`, `/latest/meta-data/`, ...: one entry a line, directories
 * ending in `/`) loses every entry the guard would refuse this caller. A denied entry is then not
 * advertised at all, and crawlers that walk the tree and abort on the first error (cloud-init's
 * EC2 datasource, ec2-metadata) get everything they may read, as if the denied part did not exist.
 */
import type { CanonicalTarget } from '../core/imds/canonical-target.js';
import type { UpstreamAnswer } from './upstream-client.js';

/**
 * Whether an answer to `target` is a listing: a path ending in `/`, or a node IMDS lists without
 * one (a version root such as `/latest`, and the trees right under it such as `/latest/meta-data`).
 */
export function isListingTarget(target: CanonicalTarget): boolean {
  return target.trailingSlash || target.segments.length <= 2;
}

/** The answer with refused entries dropped; the same object when none is. */
export function filterListing(answer: UpstreamAnswer, target: CanonicalTarget, allowed: (childPath: string) => boolean): UpstreamAnswer {
  if (answer.status !== 200 || answer.body.length === 0) return answer;
  const base = target.path.endsWith('/') ? target.path : `${target.path}/`;
  const entries = answer.body.toString('latin1').split('\n');
  const kept = entries.filter((entry) => entry === '' || allowed(`${base}${entry}`));
  if (kept.length === entries.length) return answer;
  // The upstream's length no longer holds; the reply writer sets the new one.
  const headers = answer.headers.filter(([name]) => name.toLowerCase() !== 'content-length');
  return { status: answer.status, headers, body: Buffer.from(kept.join('\n'), 'latin1') };
}
