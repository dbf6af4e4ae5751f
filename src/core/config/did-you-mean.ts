/** The largest edit distance at which a near miss is still suggested. */
const MAX_SUGGESTION_DISTANCE = 2;

function normalize(word: string): string {
  return word.toLowerCase().replace(/[-_]/g, '');
}

/** Levenshtein distance, bounded: returns `limit + 1` as soon as the distance exceeds `limit`. */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * The closest candidate to `word`, if it is a plausible typo: the same word in another case or
 * with `-`/`_` swapped, or within a small edit distance.
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const wanted = normalize(word);
  let best: string | undefined;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, normalize(candidate), MAX_SUGGESTION_DISTANCE);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
