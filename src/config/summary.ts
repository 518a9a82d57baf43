// A ClusterConfig summarized for people: the `vippyd --check` lines (vippy's /status shape of it
// is control/status.ts's).

import type { CheckSpec, ClusterConfig, SyslogLevel } from './model.js';

const listedGroups = 10;

/** A few lines for `vippyd --check`: what the file means once defaults are applied. */
export function summarizeConfig(config: ClusterConfig): string {
  const seconds = (value: number) => `${value / 1000} s`;
  const { timing } = config;
  const chatPeers = config.chat.mode === 'multicast'
    ? `multicast ${hostPort(config.chat.address, config.chat.port)} on ${config.chat.interface}, ttl ${config.chat.ttl}`
    : `unicast to ${config.nodes.length} nodes`;
  const nodes = config.nodes.map((node) => (node.address === undefined ? node.name : `${node.name} (${hostPort(node.address, node.port!)})`));
  const groups = config.groups.slice(0, listedGroups).map((group) => {
    const addresses = group.addresses.map((address) => `${address.ip}/${address.prefixLength} on ${address.interface}`).join(', ');
    const point = group.point === undefined ? '' : `${group.system}: ${group.point}${addresses === '' ? '' : ' = '}`;
    return `  [${group.index}] ${point}${addresses}${group.preferred === undefined ? '' : ` P(${group.preferred})`}${group.announce === 'routed' ? ' [routed]' : ''}`;
  });
  if (config.groups.length > listedGroups) groups.push(`  … and ${config.groups.length - listedGroups} more`);
  const quorum = config.quorum === 1 ? '1 (none: every node acts alone)' : `${config.quorum} of ${config.nodes.length}, without it: ${config.noQuorumPolicy}`;
  const logged = (Object.keys(config.logging.mask) as SyslogLevel[]).filter((level) => config.logging.mask[level]);
  const notify = config.notify.map((target) => (target.kind === 'arp-cache' ? 'arp-cache' : `${target.network}/${target.prefixLength}`));
  return [
    `${config.format} config, version ${config.version}, fingerprint ${config.fingerprint.slice(0, 16)}`,
    `chat: ${chatPeers}`,
    `nodes (${config.nodes.length}): ${nodes.join(', ')}`,
    `groups (${config.groups.length}):`,
    ...groups,
    `timing: interval ${seconds(timing.intervalMs)}, stale ${seconds(timing.staleMs)}, takeover guard ${seconds(timing.guardMs)}, mature ${seconds(timing.matureMs)}, arp-cache ${seconds(timing.arpCacheMs)}, address lease ${timing.leaseSeconds ? `${timing.leaseSeconds} s` : 'off'}`,
    `quorum: ${quorum}`,
    `placement: ${config.placement}, preempt ${config.preempt ? `on (delay ${seconds(timing.preemptDelayMs)})` : 'off'}`,
    `notify: ${notify.length === 0 ? 'none' : notify.join(', ')}`,
    ...(config.groups.some((group) => group.announce === 'routed') && config.routed !== undefined
      ? [`routed: addresses on ${config.routed.interface}${config.routed.table === undefined ? '' : `, routes in table ${config.routed.table} (protocol ${config.routed.protocol})`}`]
      : []),
    `management: ${config.management.path} (mode ${octal(config.management.mode)}${config.management.group === undefined ? '' : `, group ${config.management.group}`})`,
    `logging: ${config.logging.driver}${config.logging.driver === 'syslog' ? ` ${config.logging.facility}` : ''} (${logged.join(' ')})${config.logging.json ? ', json' : ''}`,
    ...(config.metrics === undefined ? [] : [`metrics: ${config.metrics.listen}`]),
    ...(config.plugins.length === 0 ? [] : [`plugins: ${config.plugins.join(', ')}`]),
    ...checkLines(config),
  ].join('\n');
}

/** One line per check: what it runs, how often, and which groups it covers. */
function checkLines(config: ClusterConfig): string[] {
  const checks = config.checks ?? [];
  if (checks.length === 0) return [];
  return [`checks (${checks.length}):`, ...checks.map((check) => {
    const covered = check.node ? 'every group' : `groups [${config.groups.filter((group) => group.checks?.includes(check.name)).map((group) => group.index).join(', ')}]`;
    return `  ${check.name}: ${checkTarget(check)}, every ${check.intervalMs / 1000} s (timeout ${check.timeoutMs / 1000} s, rise ${check.rise}, fall ${check.fall}, initially ${check.initial}) -> ${covered}; all failing: ${check.whenAllFail}`;
  })];
}

export function checkTarget(check: CheckSpec): string {
  switch (check.kind) {
    case 'exec': return `exec ${check.shell ? check.argv[2] : JSON.stringify(check.argv)}${check.user === undefined ? '' : ` as ${check.user}`}`;
    case 'tcp': return `tcp ${hostPort(check.host, check.port)}`;
    case 'http': return `http ${check.url}`;
    case 'file': return `file ${check.path}`;
    case 'process': return check.pidfile === undefined ? `process ${check.processName}` : `process in ${check.pidfile}`;
    case 'interface': return `interface ${check.interface}`;
  }
}

export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
