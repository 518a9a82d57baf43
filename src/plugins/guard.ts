// The objects plugins listen on (config, manager, network) must survive a plugin listener that
// throws: with a plain EventEmitter the throw would unwind through the agent's emit() call and
// the listeners after it would never run.

import { EventEmitter } from 'node:events';
import type { Log } from '../log/logger.js';

/** An EventEmitter whose emit() runs every listener even when some throw; the throws are logged. */
export class GuardedEmitter extends EventEmitter {
  // Private fields: subclasses are plugin-facing objects with methods of their own (config.log).
  readonly #log: Log;
  readonly #source: string;

  /** `source` names the object in the log ("config", "manager", "network"). */
  constructor(log: Log, source: string) {
    super();
    this.#log = log;
    this.#source = source;
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    // rawListeners: once() wrappers remove themselves when called, as in a plain emit.
    const listeners = this.rawListeners(event);
    // No listeners: keep EventEmitter's meaning (an unheard 'error' throws).
    if (listeners.length === 0) return super.emit(event, ...args);
    for (const listener of listeners) {
      try {
        const result: unknown = Reflect.apply(listener, this, args);
        if (isThenable(result)) result.then(undefined, (err: unknown) => this.#report(event, err));
      } catch (err) {
        this.#report(event, err);
      }
    }
    return true;
  }

  #report(event: string | symbol, err: unknown): void {
    this.#log.err({ err, emitter: this.#source, event: String(event) }, `a ${this.#source} '${String(event)}' listener threw`);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
