/**
 * A request target as sent, split at its first `?`. No URL resolution: dot segments, percent-
 * encoded slashes and absolute forms are not the fronts' to interpret, so they match no route.
 */
export interface RequestTarget {
  readonly path: string;
  /** What follows the `?`, undecoded; undefined when there is no `?`. */
  readonly query: string | undefined;
}

export function splitTarget(target: string): RequestTarget {
  const mark = target.indexOf('?');
  return mark < 0 ? { path: target, query: undefined } : { path: target.slice(0, mark), query: target.slice(mark + 1) };
}
