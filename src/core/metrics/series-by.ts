/**
 * A metric's bound series by one key (a status, an outcome, a service), each bound on its first
 * use, so a request path adds to a handle with no label lookup. Keys come from code or from the
 * configuration, so the map stays small.
 */
export function seriesBy<K, H>(bind: (key: K) => H): (key: K) => H {
  const bound = new Map<K, H>();
  return (key) => {
    let handle = bound.get(key);
    if (handle === undefined) {
      handle = bind(key);
      bound.set(key, handle);
    }
    return handle;
  };
}
