/**
 * Requests and events between the main thread and a call worker, over a worker_threads port.
 * A request is answered once (its value, or an error's message); an event is not answered.
 * Messages are structured clones: plain data only. Written here because the RPC packages on npm
 * (comlink and the like) proxy whole objects through `Proxy` and promises per property access,
 * where the call protocol needs a handful of named messages and no hidden round trips.
 */

/** What goes over the port. */
type Wire =
  | { rpc: 'req'; id: number; method: string; arg: unknown }
  | { rpc: 'res'; id: number; ok: true; value: unknown }
  | { rpc: 'res'; id: number; ok: false; error: string }
  | { rpc: 'ev'; method: string; arg: unknown };

export interface RpcPort {
  postMessage(value: unknown): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
}

type Handler = (arg: never) => unknown;

export class RpcClosed extends Error {
  constructor(reason: string) {
    super(`call worker link closed: ${reason}`);
  }
}

export class Rpc {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve(value: unknown): void; reject(err: Error): void }
  >();
  private readonly handlers = new Map<string, Handler>();
  private closedReason: string | undefined;

  constructor(private readonly port: RpcPort) {
    port.on('message', (message) => this.receive(message as Wire));
  }

  /** Serves `method`: its value (or promise) answers a request; an event ignores it. */
  handle<A, R>(method: string, handler: (arg: A) => R | Promise<R>): void {
    this.handlers.set(method, handler as Handler);
  }

  request<R>(method: string, arg: unknown): Promise<R> {
    if (this.closedReason) return Promise.reject(new RpcClosed(this.closedReason));
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.port.postMessage({ rpc: 'req', id, method, arg } satisfies Wire);
    });
  }

  notify(method: string, arg: unknown): void {
    if (this.closedReason) return;
    this.port.postMessage({ rpc: 'ev', method, arg } satisfies Wire);
  }

  /** The other side is gone: every open request fails, later ones at once. */
  close(reason: string): void {
    this.closedReason ??= reason;
    for (const { reject } of this.pending.values()) reject(new RpcClosed(reason));
    this.pending.clear();
  }

  private receive(message: Wire): void {
    if (message.rpc === 'res') {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (!waiter) return;
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new Error(message.error));
      return;
    }
    const handler = this.handlers.get(message.method);
    if (message.rpc === 'ev') {
      handler?.(message.arg as never);
      return;
    }
    const id = message.id;
    const answer = (reply: Wire) => {
      if (!this.closedReason) this.port.postMessage(reply);
    };
    if (!handler) {
      return answer({ rpc: 'res', id, ok: false, error: `no handler for ${message.method}` });
    }
    Promise.resolve()
      .then(() => handler(message.arg as never))
      .then(
        (value) => answer({ rpc: 'res', id, ok: true, value }),
        (err: unknown) => answer({ rpc: 'res', id, ok: false, error: String(err) }),
      );
  }
}
