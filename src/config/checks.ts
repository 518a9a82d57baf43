// The `checks` key of vippy and flip files → CheckSpec[], and the cross-checks between checks and
// the groups (or flip systems) that name them.

import { parseHostPort } from './addresses.js';
import type { CheckKind, CheckSpec } from './model.js';
import { ms, type Report } from './report.js';
import type { VippyFile } from './schema.js';

type FileCheck = VippyFile['checks'][string];
type KindKey = 'command' | 'shell' | 'user' | 'connect' | 'url' | 'status' | 'body' | 'insecure' | 'path' | 'name' | 'pidfile' | 'interface';

/** The kind-specific keys each kind allows. */
const kindKeys: Record<CheckKind, readonly KindKey[]> = {
  exec: ['command', 'shell', 'user'],
  tcp: ['connect'],
  http: ['url', 'status', 'body', 'insecure'],
  file: ['path'],
  process: ['name', 'pidfile'],
  interface: ['interface'],
};
const allKindKeys = new Set(Object.values(kindKeys).flat());

export function normalizeChecks(checks: VippyFile['checks'], report: Report): CheckSpec[] {
  const specs: CheckSpec[] = [];
  for (const [name, check] of Object.entries(checks)) {
    const spec = normalizeCheck(name, check, report);
    if (spec !== undefined) specs.push(spec);
  }
  return specs;
}

function normalizeCheck(name: string, check: FileCheck, report: Report): CheckSpec | undefined {
  const path = ['checks', name];
  let ok = true;
  const problem = (key: string, message: string) => {
    report.error([...path, key], message);
    ok = false;
  };
  for (const key of allKindKeys) {
    if (check[key] !== undefined && !kindKeys[check.kind].includes(key)) problem(key, `is not used by kind "${check.kind}" (it takes ${kindKeys[check.kind].map((k) => `"${k}"`).join(', ')})`);
  }
  const need = (key: KindKey) => {
    if (check[key] === undefined) problem(key, `is required for kind "${check.kind}"`);
  };
  const common = {
    name,
    node: check.node,
    intervalMs: ms(check.interval),
    timeoutMs: ms(check.timeout ?? check.interval),
    rise: check.rise,
    fall: check.fall,
    initial: check.initial,
    whenAllFail: check.when_all_fail,
  };
  let spec: CheckSpec | undefined;
  switch (check.kind) {
    case 'exec': {
      need('command');
      const { command, shell = false } = check;
      if (typeof command === 'string' && !shell) problem('command', 'is a string, which needs "shell": true (or give an argv array such as ["/usr/bin/check", "--quick"])');
      if (Array.isArray(command) && shell) problem('shell', 'needs "command" as one string for /bin/sh -c, not an argv array');
      if (command !== undefined) {
        const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
        spec = { ...common, kind: 'exec', argv, shell, ...(check.user === undefined ? {} : { user: check.user }) };
      }
      break;
    }
    case 'tcp': {
      need('connect');
      const target = check.connect === undefined ? undefined : parseHostPort(check.connect);
      if (target !== undefined) spec = { ...common, kind: 'tcp', host: target.host, port: target.port };
      break;
    }
    case 'http':
      need('url');
      if (check.url !== undefined) {
        spec = {
          ...common,
          kind: 'http',
          url: check.url,
          status: check.status ?? null,
          ...(check.body === undefined ? {} : { body: check.body }),
          insecure: check.insecure ?? false,
        };
      }
      break;
    case 'file':
      need('path');
      if (check.path !== undefined) spec = { ...common, kind: 'file', path: check.path };
      break;
    case 'process':
      if ((check.name === undefined) === (check.pidfile === undefined)) problem('name', 'give "name" or "pidfile" (one of them)');
      else spec = { ...common, kind: 'process', ...(check.name === undefined ? {} : { processName: check.name }), ...(check.pidfile === undefined ? {} : { pidfile: check.pidfile }) };
      break;
    case 'interface':
      need('interface');
      if (check.interface !== undefined) spec = { ...common, kind: 'interface', interface: check.interface };
      break;
  }
  return ok ? spec : undefined;
}

/** A list of check names (a group's or a flip system's): each must be a defined check. */
export function checkNames(names: readonly string[], defined: ReadonlySet<string>, path: Array<string | number>, report: Report): string[] {
  const known = [...defined].map((name) => `"${name}"`).join(', ');
  names.forEach((name, index) => {
    if (!defined.has(name)) report.error([...path, index], `unknown check "${name}" (${defined.size === 0 ? 'the file defines no checks' : `checks defined: ${known}`})`);
  });
  return [...new Set(names)];
}

/** Checks that cover no group do nothing but show in vippyctl checks: say so. */
export function warnUnusedChecks(specs: readonly CheckSpec[], named: ReadonlySet<string>, report: Report): void {
  for (const spec of specs) {
    if (!spec.node && !named.has(spec.name)) report.warn(`check "${spec.name}" covers no group (no group or system names it and "node" is false): it runs and shows in vippyctl checks, but moves nothing`);
  }
}
