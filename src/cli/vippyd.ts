#!/usr/bin/env -S node --max-semi-space-size=1
// (A 1 MiB young generation instead of V8's 16 MiB: the daemon allocates little, and this keeps
// its resident size about 14 MB smaller for a few more, very short, scavenges.)
// vippyd: the daemon's command line. Options as the original (-c, -n, -p, -h) plus --check.

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { DaemonOptions } from '../agent/daemon.js';
import { ConfigError, loadConfigFile, summarizeConfig } from '../config/index.js';

const defaultConfigPath = '/etc/vippy.conf';

const usage = `usage: vippyd [-c FILE] [-n NODE] [-p PLUGIN]... [--check] [-h]

  -c, --config FILE   configuration file (default ${defaultConfigPath})
  -n, --node NODE     this node's name in the configuration (default: a flip file's
                      "id", else the host name)
  -p, --plugin FILE   load a plugin (repeatable; added to the config's "plugins")
  --check             validate the configuration, print what it means, and exit
  -h, --help          this text
`;

export interface Output {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** The part of agent/daemon.js the CLI uses; loaded only to run, so --check needs no native addon. */
export interface DaemonModule {
  runDaemon(options: DaemonOptions): Promise<number>;
  StartupError: abstract new (...args: never[]) => Error;
}

const loadDaemon = (): Promise<DaemonModule> => import('../agent/daemon.js');

/** Runs vippyd with `argv` (arguments only); resolves to the exit status. */
export async function main(argv: string[], out: Output, daemon: () => Promise<DaemonModule> = loadDaemon): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c', default: defaultConfigPath },
        node: { type: 'string', short: 'n' },
        plugin: { type: 'string', short: 'p', multiple: true, default: [] },
        check: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    out.stderr.write(`vippyd: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    out.stdout.write(usage);
    return 0;
  }

  if (values.check) return check(values.config, values.node, out);

  const { runDaemon, StartupError } = await daemon();
  try {
    return await runDaemon({ configPath: values.config, ...(values.node === undefined ? {} : { node: values.node }), plugins: values.plugin });
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    out.stderr.write(`vippyd: ${err.message}\n`);
    return 1;
  }
}

/** --check: every problem of the file at once, or the summary. An explicit -n must be a node of it. */
function check(path: string, node: string | undefined, out: Output): number {
  let loaded;
  try {
    loaded = loadConfigFile(path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    out.stderr.write(`${err.message}\n`);
    return 1;
  }
  const { config, warnings } = loaded;
  out.stdout.write(`${summarizeConfig(config)}\n`);
  for (const warning of warnings) out.stderr.write(`warning: ${warning}\n`);
  const names = config.nodes.map((n) => n.name);
  if (node !== undefined && !names.includes(node)) {
    out.stderr.write(`vippyd: node "${node}" is not in ${path} (nodes: ${names.join(', ')})\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  // exit() rather than exitCode: a plugin's forgotten timer must not keep a stopped daemon alive.
  process.exit(await main(process.argv.slice(2), process));
}
