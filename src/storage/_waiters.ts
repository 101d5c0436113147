/** A set of pending waits that can all be woken at once; each also ends by itself on a timer. */
export class Waiters {
  #waiting = new Set<() => void>();

  get size(): number {
    return this.#waiting.size;
  }

  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.#waiting.add(done);
    });
  }

  wakeAll(): void {
    for (const done of [...this.#waiting]) done();
  }
}
