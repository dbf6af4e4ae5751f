/** A name pattern as tokens list them: `*` (any), `prefix*`, or an exact name. */
export function nameMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

/** Whether any of a token's name patterns matches `name`. */
export function matchesAny(patterns: readonly string[], name: string): boolean {
  return patterns.some((pattern) => nameMatches(pattern, name));
}
