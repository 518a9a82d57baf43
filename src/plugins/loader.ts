// Plugins as the original ran them (reference vippy.md §7): each file is a script run in its own
// vm context holding the host's globals plus `require`, `global`, `config`, `manager` and
// `network`. A plugin that throws, at load, from a timer or from a listener (emitGuarded), is
// logged and the daemon goes on; one that cannot be read stops the start.

import type { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import vm from 'node:vm';
import type { Log } from '../log/logger.js';

/** The objects a plugin sees as globals (the agent's VippyConfig, VippyManager, VippyNetwork). */
export interface PluginGlobals {
  config: unknown;
  manager: unknown;
  network: unknown;
}

export interface LoadedPlugin {
  path: string;
  /** False when the script threw while loading (it was logged). */
  loaded: boolean;
}

/** A plugin file could not be read; the message is one line for the operator. */
export class PluginLoadError extends Error {
  override name = 'PluginLoadError';
}

// Names every fresh context already has (Object, Array, console, ...): copying the host's would
// mix realms. Everything else on globalThis is the host's (process, Buffer, timers, URL, ...).
const contextIntrinsics = new Set(Object.getOwnPropertyNames(vm.runInNewContext('globalThis')));

/** Reads every plugin first, so that a bad path stops the start before any plugin runs. */
export async function loadPlugins(paths: readonly string[], globals: PluginGlobals, log: Log): Promise<LoadedPlugin[]> {
  const sources = await Promise.all(
    paths.map(async (given) => {
      const path = resolve(given);
      try {
        return { path, code: await readFile(path, 'utf8') };
      } catch (err) {
        const { code, message } = err as NodeJS.ErrnoException;
        throw new PluginLoadError(`cannot read plugin ${given}: ${code ?? message}`);
      }
    }),
  );
  return sources.map(({ path, code }) => {
    const pluginLog = log.child({ plugin: path });
    try {
      vm.runInContext(code, vm.createContext(sandbox(path, globals, pluginLog)), { filename: path });
      pluginLog.info('plugin loaded');
      return { path, loaded: true };
    } catch (err) {
      pluginLog.err({ err }, 'plugin failed while loading');
      return { path, loaded: false };
    }
  });
}

function sandbox(path: string, globals: PluginGlobals, log: Log): Record<string, unknown> {
  const box: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    if (contextIntrinsics.has(name)) continue;
    // Descriptors, not values: lazy host getters stay lazy.
    Object.defineProperty(box, name, Object.getOwnPropertyDescriptor(globalThis, name)!);
  }
  const guard = guardCallback(log);
  return Object.assign(box, {
    global: box,
    console,
    require: createRequire(path),
    setTimeout: (callback: unknown, ms?: number, ...args: unknown[]) => setTimeout(guard(callback), ms, ...args),
    setInterval: (callback: unknown, ms?: number, ...args: unknown[]) => setInterval(guard(callback), ms, ...args),
    setImmediate: (callback: unknown, ...args: unknown[]) => setImmediate(guard(callback), ...args),
    config: globals.config,
    manager: globals.manager,
    network: globals.network,
  });
}

/** A timer callback that throws is logged instead of reaching uncaughtException. */
function guardCallback(log: Log) {
  return (callback: unknown): ((...args: unknown[]) => void) => {
    // Non-functions go through so that Node's own argument check still reports them.
    if (typeof callback !== 'function') return callback as (...args: unknown[]) => void;
    return function (this: unknown, ...args: unknown[]) {
      try {
        return callback.apply(this, args);
      } catch (err) {
        log.err({ err }, 'plugin timer callback threw');
      }
    };
  };
}

/**
 * emit() for the objects plugins listen on: every listener runs even when one throws (a plain
 * emit would unwind into the agent and skip the rest); throws and rejected promises are logged.
 * Returns whether anyone listened.
 */
export function emitGuarded(emitter: EventEmitter, event: string, args: readonly unknown[], log: Log): boolean {
  // rawListeners: once() wrappers remove themselves when called, as in a plain emit.
  const listeners = emitter.rawListeners(event);
  const report = (err: unknown) => log.err({ err, event }, `a '${event}' listener threw`);
  for (const listener of listeners) {
    try {
      const result: unknown = Reflect.apply(listener, emitter, args);
      if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') (result as PromiseLike<unknown>).then(undefined, report);
    } catch (err) {
      report(err);
    }
  }
  return listeners.length > 0;
}
