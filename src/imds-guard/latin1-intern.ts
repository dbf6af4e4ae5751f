/**
 * The same string for the same bytes: a small direct-mapped table of recently seen byte runs
 * (request targets, header values) and the latin1 strings made from them.
 *
 * Why: clients repeat themselves (an SDK asks the same few paths with the same Host header, and a
 * flood of denied requests repeats one target), and a string made anew from a buffer costs a call
 * into C++ plus, wherever it is a map key, hashing it again. Comparing the bytes with the ones seen last in the same slot costs less, and the string handed
 * back is the one whose hash is already known to the verdict cache and whose JSON form the access
 * line already holds. A miss only costs the comparison; the table never grows. It stays because
 * removing it costs the denied path more than the project's limit (docs/imds.md, Benchmark).
 */

/** Slots in the table (a power of two). */
export const INTERN_SLOTS = 256;
/** Longest byte run interned; longer ones get a fresh string every time. */
export const MAX_INTERNED_BYTES = 256;

interface Slot {
  readonly bytes: Buffer;
  readonly text: string;
  /** text.trim(), once asked for. */
  trimmed: string | undefined;
}

export class Latin1Intern {
  readonly #slots: (Slot | undefined)[] = new Array(INTERN_SLOTS).fill(undefined);
  /** The slot `text` found or filled last, or the string it made when the run was too long to keep. */
  #last: Slot | string = '';

  /** `text.trim()` for the string `text` returned last, made once per slot (header values: Host, User-Agent). */
  lastTrimmed(): string {
    const last = this.#last;
    if (typeof last === 'string') return last.trim();
    last.trimmed ??= last.text.trim();
    return last.trimmed;
  }

  /** `buffer.toString('latin1', start, end)`, as the same string object when these bytes were seen recently. */
  text(buffer: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length <= 0 || length > MAX_INTERNED_BYTES) {
      const text = length <= 0 ? '' : buffer.toString('latin1', start, end);
      this.#last = text;
      return text;
    }
    // The length and three bytes (the last two differ most between IMDS paths) pick the slot.
    const index =
      (length * 31 +
        (buffer[end - 1] as number) * 7 +
        (length > 1 ? (buffer[end - 2] as number) : 0) * 3 +
        (buffer[start + (length >> 1)] as number)) &
      (INTERN_SLOTS - 1);
    const slot = this.#slots[index];
    if (slot !== undefined && slot.bytes.length === length) {
      const bytes = slot.bytes;
      let i = 0;
      while (i < length && bytes[i] === buffer[start + i]) i++;
      if (i === length) {
        this.#last = slot;
        return slot.text;
      }
    }
    const text = buffer.toString('latin1', start, end);
    const filled: Slot = { bytes: Buffer.from(buffer.subarray(start, end)), text, trimmed: undefined };
    this.#slots[index] = filled;
    this.#last = filled;
    return text;
  }
}
