// A steady load against the proxy: bounded concurrency, bounded in time, counts outcomes.
export class Traffic {
  constructor(baseUrl, { concurrency = 4, pick } = {}) {
    this.baseUrl = baseUrl;
    this.concurrency = concurrency;
    this.pick = pick ?? (() => ({ path: `/users/${1 + Math.floor(Math.random() * 200)}` }));
    this.running = false;
    this.counts = { ok: 0, failed: 0 };
    this.loops = [];
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, () => this.#loop());
  }

  async stop() {
    this.running = false;
    await Promise.all(this.loops);
  }

  async #loop() {
    while (this.running) {
      const { path, method = 'GET', body } = this.pick();
      try {
        const res = await fetch(`${this.baseUrl}${path}`, {
          method,
          ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
          signal: AbortSignal.timeout(15_000),
        });
        await res.arrayBuffer();
        if (res.ok) this.counts.ok++;
        else this.counts.failed++;
      } catch {
        this.counts.failed++;
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
