/**
 * Consistent checks shared by concurrent callers without weakening them. A caller may only be
 * answered by a check sent after it arrived (an earlier one may predate a revoke it must see), so
 * per key one check runs and at most one waits: a caller joins the waiting one, which is sent when
 * the running one ends. However many callers ask at once, a key costs at most one check per round
 * trip instead of one per caller.
 */
export class AfterArrivalChecks<T> {
  readonly #running = new Map<string, Promise<T>>();
  readonly #waiting = new Map<string, Promise<T>>();

  run(key: string, check: () => Promise<T>): Promise<T> {
    const waiting = this.#waiting.get(key);
    if (waiting) return waiting;
    const running = this.#running.get(key);
    if (!running) return this.#start(key, check);
    const settled = () => {
      this.#waiting.delete(key);
      return this.#start(key, check);
    };
    const next = running.then(settled, settled);
    this.#waiting.set(key, next);
    return next;
  }

  #start(key: string, check: () => Promise<T>): Promise<T> {
    const sent = check();
    this.#running.set(key, sent);
    const done = () => {
      if (this.#running.get(key) === sent) this.#running.delete(key);
    };
    sent.then(done, done);
    return sent;
  }
}
