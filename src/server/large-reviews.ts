/**
 * At most `limit` large reviews at once. A 3 MiB object costs tens of megabytes while it is parsed, reviewed and
 * answered; four at once took the pod past its memory limit. Others wait their turn in order (the API server's
 * timeout bounds the wait), and small reviews never wait.
 */
export class LargeReviewGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: () => number) {}

  /** Resolves with the release function once a slot is free. */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.running++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.running--;
          this.waiting.shift()?.();
        });
      };
      if (this.running < this.limit()) grant();
      else this.waiting.push(grant);
    });
  }

  /** Reviews running and waiting, for /metrics and tests. */
  load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
