// Config graduation: the cluster part of a config as a document for peers, adopting a peer's
// document (keeping this host's interface names and local settings), and writing it back into
// the file so that a restart or SIGHUP does not fall back to the old version.

import type { z } from 'zod';
import { applyEdits, modify, type FormattingOptions, type JSONPath } from 'jsonc-parser';
import { parseCidr } from './addresses.js';
import { ConfigError } from './errors.js';
import { canonicalJson } from './fingerprint.js';
import { problemsFromIssues } from './issues.js';
import { validate } from './load.js';
import type { CheckSpec, ClusterConfig, FlipSystem, SyslogLevel } from './model.js';
import { flipFileSchema, flipTransferSchema, syslogLevels, vippyFileSchema, vippyTransferSchema, type FlipFile } from './schema.js';
import { parseSource, plainSource } from './source.js';
import { hostPort, octal } from './summary.js';
import { normalizeFlip } from './flip.js';
import { groupAnnounceOption, normalizeVippy } from './vippy.js';

const seconds = (ms: number): number => ms / 1000;

/** `withChecks`: keep each group's checks in its options element (local to this host: never sent to peers). */
function fileVips(config: ClusterConfig, withChecks = true) {
  return config.groups.map((group) => {
    const options = {
      ...(group.announceOption === undefined ? {} : { announce: group.announceOption }),
      ...(withChecks && group.checks !== undefined ? { checks: group.checks } : {}),
    };
    return [
      ...(group.preferred === undefined ? [] : [group.preferred]),
      ...group.addresses.map((address) => ({
        // Routed groups are plumbed on announce.interface: their entries name no interface.
        ...(group.announce === 'routed' ? {} : { interface: address.interface }),
        ip: `${address.ip}/${address.prefixLength}`,
        ...(address.state === undefined ? {} : { state: address.state }),
      })),
      ...(Object.keys(options).length === 0 ? [] : [options]),
    ];
  });
}

/** A CheckSpec as its file entry again. */
function fileCheck(check: CheckSpec): Record<string, unknown> {
  const common = {
    kind: check.kind,
    node: check.node,
    interval: seconds(check.intervalMs),
    timeout: seconds(check.timeoutMs),
    rise: check.rise,
    fall: check.fall,
    initial: check.initial,
    when_all_fail: check.whenAllFail,
  };
  switch (check.kind) {
    case 'exec':
      return { ...common, command: check.shell ? check.argv[2] : check.argv, ...(check.shell ? { shell: true } : {}), ...(check.user === undefined ? {} : { user: check.user }) };
    case 'tcp':
      return { ...common, connect: hostPort(check.host, check.port) };
    case 'http':
      return { ...common, url: check.url, ...(check.status === null ? {} : { status: check.status }), ...(check.body === undefined ? {} : { body: check.body }), insecure: check.insecure };
    case 'file':
      return { ...common, path: check.path };
    case 'process':
      return { ...common, ...(check.processName === undefined ? {} : { name: check.processName }), ...(check.pidfile === undefined ? {} : { pidfile: check.pidfile }) };
    case 'interface':
      return { ...common, interface: check.interface };
  }
}

function fileNodes(config: ClusterConfig) {
  return config.nodes.map((node) => (node.address === undefined ? node.name : { name: node.name, address: node.address, port: node.port }));
}

function fileServers(config: ClusterConfig): FlipFile['servers'] {
  return Object.fromEntries(config.nodes.map((node) => [
    node.name,
    { ip: node.address!, port: node.port!, systems: node.systems ?? [], ...(node.priority === undefined ? {} : { priority: node.priority }) },
  ]));
}

function fileSystem(system: FlipSystem, withChecks = true): FlipFile['cluster']['system'][string] {
  return {
    ...(withChecks && system.checks !== undefined ? { checks: system.checks } : {}),
    ...(system.alive === undefined ? {} : { alive: system.alive }),
    ...(system.down === undefined ? {} : { down: system.down }),
    type: system.type,
    config: system.config,
    data: system.data,
    delay: system.delayMs,
    remove_on_start: system.removeOnStart,
  };
}

function operatorKeys(config: ClusterConfig) {
  return {
    ...(config.quorum > 1 ? { no_quorum_policy: config.noQuorumPolicy } : {}),
    management: config.management.path,
    management_mode: octal(config.management.mode),
    ...(config.management.group === undefined ? {} : { management_group: config.management.group }),
    ...(config.metrics === undefined ? {} : { metrics: { listen: config.metrics.listen } }),
    plugins: config.plugins,
    checks: Object.fromEntries((config.checks ?? []).map((check) => [check.name, fileCheck(check)])),
    ...(config.timing.leaseSeconds === undefined ? {} : { address_lease: config.timing.leaseSeconds }),
  };
}

/** The whole config as a file object again: every value explicit. */
function toFile(config: ClusterConfig): Record<string, unknown> {
  if (config.format === 'flip') {
    const lowest = syslogLevels.filter((level) => config.logging.mask[level]).at(-1) ?? 'crit';
    const logLevel: Record<SyslogLevel, FlipFile['log_level']> = {
      emerg: 'fatal', alert: 'fatal', crit: 'fatal', err: 'error', warning: 'warning', notice: 'info', info: 'info', debug: 'debug',
    };
    return {
      id: config.localNode,
      quorum: config.quorum,
      gossip_interval: config.timing.intervalMs,
      key: config.secret,
      ping_timeout: config.timing.staleMs,
      log_level: logLevel[lowest],
      servers: fileServers(config),
      cluster: {
        config: {},
        system: Object.fromEntries((config.systems ?? []).map((system) => [system.name, fileSystem(system)])),
        remove_on_start: false,
        remove_on_failure: config.releaseOnStop ?? true,
      },
      version: config.version,
      ...operatorKeys(config),
    };
  }
  return {
    chat: hostPort(config.chat.address, config.chat.port),
    chat_interface: config.chat.interface,
    chat_ttl: config.chat.ttl,
    secret: config.secret,
    version: config.version,
    vips: fileVips(config),
    nodes: fileNodes(config),
    interval: seconds(config.timing.intervalMs),
    mature: seconds(config.timing.matureMs),
    stale: seconds(config.timing.staleMs),
    'arp-cache': seconds(config.timing.arpCacheMs),
    notify: config.notify.map((target) =>
      target.kind === 'arp-cache' ? 'arp-cache' : { interface: target.interface, ip: `${target.network}/${target.prefixLength}` }),
    logging: { driver: config.logging.driver, facility: config.logging.facility, mask: config.logging.mask, json: config.logging.json },
    quorum: config.quorum,
    placement: config.placement,
    preempt: config.preempt,
    preempt_delay: seconds(config.timing.preemptDelayMs),
    takeover_guard: seconds(config.timing.guardMs),
    ...(config.routed === undefined ? {} : {
      announce: {
        mode: config.routed.defaultMode,
        interface: config.routed.interface,
        ...(config.routed.table === undefined ? {} : { table: config.routed.table }),
        protocol: config.routed.protocol,
      },
    }),
    arp: {
      burst_count: config.arp.burstCount,
      burst_spacing: seconds(config.arp.burstSpacingMs),
      repeat_delay: seconds(config.arp.repeatDelayMs),
      refresh: seconds(config.arp.refreshIntervalMs),
      notify_rate: config.arp.notifyRate,
    },
    ...operatorKeys(config),
  };
}

/** What travels to peers: version and the cluster-wide part (vips with this host's interface names, nodes). */
export function transferDocument(config: ClusterConfig): string {
  if (config.format === 'flip') {
    const systems = Object.fromEntries((config.systems ?? []).map((system) => [system.name, fileSystem(system, false)]));
    return canonicalJson({ version: config.version, servers: fileServers(config), systems });
  }
  return canonicalJson({ version: config.version, vips: fileVips(config, false), nodes: fileNodes(config) });
}

/**
 * A peer's document merged into the local config: its version, vips and nodes (flip: servers and
 * the systems' type and data); this host's interface names for addresses it already knows (flip:
 * its own system config and scripts); every local-only key (secret, chat, logging, ...) kept.
 */
export function adoptTransferred(local: ClusterConfig, document: string): ClusterConfig {
  const source = parseSource(document, 'transferred config');
  const schema = local.format === 'flip' ? flipTransferSchema : vippyTransferSchema;
  const parsed = schema.safeParse(source.value);
  if (!parsed.success) {
    throw new ConfigError(source.name, problemsFromIssues(parsed.error.issues, schema, source.value).map((p) => source.problemAt(p.path, p.message)));
  }
  const file = toFile(local);
  if (local.format === 'flip') {
    const transferred = parsed.data as z.output<typeof flipTransferSchema>;
    const known = new Map((local.systems ?? []).map((system) => [system.name, fileSystem(system)]));
    const systems = Object.fromEntries(Object.entries(transferred.systems).map(([name, system]) => {
      const mine = known.get(name);
      // A peer's checks are its own: a system new here names none.
      const { checks: _theirs, ...theirs } = system;
      return [name, mine === undefined ? theirs : { ...mine, type: system.type, data: system.data }];
    }));
    const merged = { ...file, version: transferred.version, servers: transferred.servers, cluster: { config: {}, system: systems } };
    return validate(plainSource('adopted config', merged), flipFileSchema, normalizeFlip).config;
  }
  const transferred = parsed.data as z.output<typeof vippyTransferSchema>;
  const localInterface = new Map(local.groups.flatMap((group) => group.addresses.map((address) => [address.ip, address.interface] as const)));
  const localChecks = new Map(local.groups.flatMap((group) => group.addresses.map((address) => [address.ip, group.checks] as const)));
  const vips = transferred.vips.map((group) => {
    const routed = (groupAnnounceOption(group) ?? local.routed?.defaultMode) === 'routed';
    let checks: string[] | undefined;
    type Entry = (typeof group)[number];
    const entries = group.flatMap((entry): Entry[] => {
      if (typeof entry === 'string') return [entry];
      // A peer's checks are its own: only its announce option travels on.
      if (!('ip' in entry)) return entry.announce === undefined ? [] : [{ announce: entry.announce }];
      checks ??= localChecks.get(parseCidr(entry.ip)!.ip);
      // A routed group needs no interface name: it is plumbed on this host's announce.interface.
      if (routed) return [entry];
      const known = localInterface.get(parseCidr(entry.ip)!.ip);
      return [known === undefined ? entry : { ...entry, interface: known }];
    });
    if (checks === undefined) return entries;
    // This host's checks for a group it already had join the group's options element.
    const options = entries.find((entry): entry is Exclude<Entry, string | { ip: string }> => typeof entry === 'object' && !('ip' in entry));
    if (options !== undefined) options.checks = checks;
    return options === undefined ? [...entries, { checks }] : entries;
  });
  const merged = { ...file, version: transferred.version, vips, nodes: transferred.nodes };
  return validate(plainSource('adopted config', merged), vippyFileSchema, normalizeVippy).config;
}

/**
 * The file text with the cluster part replaced by `config`'s (vippy: version, vips, nodes;
 * flip: version, servers, systems' type and data), everything else left as the operator wrote it.
 */
export function renderConfigFile(originalText: string, config: ClusterConfig): string {
  const indent = /\n(\t|[ ]+)"/.exec(originalText)?.[1] ?? '  ';
  const formattingOptions: FormattingOptions = { insertSpaces: indent !== '\t', tabSize: indent === '\t' ? 1 : indent.length, eol: '\n' };
  let text = originalText;
  const set = (path: JSONPath, value: unknown) => {
    text = applyEdits(text, modify(text, path, value, { formattingOptions }));
  };
  set(['version'], config.version);
  if (config.format === 'flip') {
    set(['servers'], fileServers(config));
    const written = (parseSource(text, 'config file').value as { cluster?: { system?: Record<string, unknown> } }).cluster?.system ?? {};
    for (const name of Object.keys(written)) {
      if (!config.systems?.some((system) => system.name === name)) set(['cluster', 'system', name], undefined);
    }
    for (const system of config.systems ?? []) {
      if (system.name in written) {
        set(['cluster', 'system', system.name, 'type'], system.type);
        set(['cluster', 'system', system.name, 'data'], system.data);
      } else {
        set(['cluster', 'system', system.name], fileSystem(system));
      }
    }
  } else {
    set(['vips'], fileVips(config));
    set(['nodes'], fileNodes(config));
  }
  return text;
}
