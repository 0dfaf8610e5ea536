// When the server process dies, restart it — unless it keeps dying: more than `limit`
// crashes within `windowMs` and it stays stopped until the user restarts it. Pure, so the
// decision and its message are unit-tested; client.ts turns it into the ErrorHandler.

export interface RestartDecision {
  restart: boolean;
  message: string;
}

export class RestartPolicy {
  private crashes: number[] = [];

  constructor(
    private readonly limit = 4,
    private readonly windowMs = 3 * 60 * 1000,
  ) {}

  /** Called when the connection closed without the client asking for it. */
  crashed(now: number): RestartDecision {
    this.crashes = this.crashes.filter((at) => now - at < this.windowMs);
    this.crashes.push(now);
    const n = this.crashes.length;
    if (n > this.limit) {
      return {
        restart: false,
        message: `The Self-Harness language server stopped ${n} times in ${Math.round(this.windowMs / 60000)} minutes and will not be restarted. See the "Self-Harness" output, then run "Self-Harness: Restart the language server".`,
      };
    }
    return {
      restart: true,
      message: `The Self-Harness language server stopped unexpectedly; restarting it (${n} of ${this.limit}). See the "Self-Harness" output for its log.`,
    };
  }

  /** A deliberate (re)start forgets earlier crashes. */
  reset(): void {
    this.crashes = [];
  }
}
