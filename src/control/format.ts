// `vippyctl status`, line for line as the original printed it (reference vippy.md §6), except
// that mask bits are the count of set bits (the original summed each octet's bit length, so
// /25 showed as /32). It reads the original daemon's JSON too: only the first four keys matter.

import ipaddr from 'ipaddr.js';

export class StatusFormatError extends Error {
  override name = 'StatusFormatError';
}

interface GroupLike {
  ip?: unknown;
  netmask?: unknown;
  /** A flip data point that is not an address vippyd plumbs. */
  point?: unknown;
  system?: unknown;
}

/** The status report as text, one line per entry, each ending in a newline. */
export function formatStatus(status: unknown): string {
  const { identity, state, config, ineligible } = readStatus(status);
  const lines = [`State:  ${state.active ? 'active' : 'inactive'}`];
  if (!state.active) lines.push(`Reason: ${String(state.inactive_reason)}`);

  // Groups are matched to owners by their printed form, as the original did: it works across
  // daemon versions without relying on object identity or group indices. A flip replicated
  // point has several holders: they are listed in ownership order, separated by commas.
  const ownersOf = new Map<string, string[]>();
  for (const [owner, groups] of Object.entries(state.ownership)) {
    if (!Array.isArray(groups)) throw new StatusFormatError(`state.ownership["${owner}"] is not a list of groups`);
    for (const group of groups) {
      const printed = formatGroup(group);
      ownersOf.set(printed, [...(ownersOf.get(printed) ?? []), owner === '_' ? '(unowned)' : owner]);
    }
  }
  // New daemons with routed groups say how each group is announced (absent: all l2, the original lines).
  const announce = readAnnounce(status);
  config.vips.forEach((group, index) => {
    const printed = formatGroup(group);
    const owners = ownersOf.get(printed);
    const mine = owners?.includes(String(identity)) ?? false;
    const how = announce?.[index];
    lines.push(`${mine ? '(*) ' : '    '}${owners?.join(',') ?? '???'}: ${printed}${how ? ` [${how.mode}]` : ''}`);
    if (how && how.announced.length > 0) lines.push(`        announced: ${how.announced.join(', ')}`);
  });
  // New daemons say why this node may not hold a group; the lines above stay the original's.
  for (const entry of ineligible) {
    const group = config.vips[entry.group];
    lines.push(`Ineligible for ${group === undefined ? `group ${entry.group}` : formatGroup(group)}: ${entry.reasons.join('; ')}`);
  }
  return lines.map((line) => line + '\n').join('');
}

interface LooseCheck {
  name?: unknown;
  kind?: unknown;
  target?: unknown;
  state?: unknown;
  since?: unknown;
  reason?: unknown;
  consecutive_passes?: unknown;
  consecutive_fails?: unknown;
  last_duration_ms?: unknown;
  output?: unknown;
  groups?: unknown;
}

/**
 * `vippyctl checks`: one line per check (name, state, since when, consecutive passes/fails, last
 * run's duration, groups covered, reason), then the last output of failing exec checks.
 */
export function formatChecks(reply: unknown, now = Date.now()): string {
  if (!Array.isArray(reply)) throw new StatusFormatError('the checks reply is not a list');
  if (reply.length === 0) return 'no checks configured\n';
  const rows = (reply as LooseCheck[]).map((check) => {
    const since = typeof check.since === 'string' ? Date.parse(check.since) : NaN;
    const groups = check.groups === 'all' ? 'all' : Array.isArray(check.groups) ? (check.groups.length === 0 ? '-' : check.groups.join(',')) : '?';
    return [
      String(check.name),
      String(check.state),
      Number.isNaN(since) ? '?' : `${ago(now - since)}`,
      `${String(check.consecutive_passes)}/${String(check.consecutive_fails)}`,
      typeof check.last_duration_ms === 'number' ? `${check.last_duration_ms} ms` : '-',
      groups,
      `${String(check.target)}: ${String(check.reason)}`,
    ];
  });
  const header = ['CHECK', 'STATE', 'SINCE', 'PASS/FAIL', 'LAST RUN', 'GROUPS', 'TARGET: REASON'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ');
  const lines = [line(header), ...rows.map(line)];
  for (const check of reply as LooseCheck[]) {
    if (check.state === 'fail' && typeof check.output === 'string' && check.output !== '') {
      lines.push(`${String(check.name)} output:`, ...check.output.split('\n').map((text) => `  ${text}`));
    }
  }
  return lines.map((text) => text + '\n').join('');
}

/** "12s ago", "3m ago", "2h ago", "4d ago". */
function ago(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}


/**
 * `ip/bits` per IPv4 address, a bare `ip` for IPv6, `point (system)` for a flip data point, then
 * ` P(node)` for a preferred node.
 */
export function formatGroup(group: unknown): string {
  if (!Array.isArray(group)) throw new StatusFormatError(`a group is not a list: ${JSON.stringify(group)}`);
  const addresses = group
    .filter((element): element is GroupLike => typeof element === 'object' && element !== null)
    .map((element) => {
      if (typeof element.point === 'string') return `${element.point} (${String(element.system)})`;
      return typeof element.netmask === 'string' ? `${String(element.ip)}/${maskBits(element.netmask)}` : String(element.ip);
    })
    .join(' ');
  return typeof group[0] === 'string' ? `${addresses} P(${group[0]})` : addresses;
}

/** Number of set bits of a dotted IPv4 netmask; "?" when it is not one. */
export function maskBits(netmask: string): number | '?' {
  if (!ipaddr.IPv4.isValidFourPartDecimal(netmask)) return '?';
  let bits = 0;
  for (let octet of ipaddr.IPv4.parse(netmask).octets) {
    for (; octet; octet &= octet - 1) bits++;
  }
  return bits;
}

/** status.announce.groups by group index, when the daemon sent them. */
function readAnnounce(status: unknown): Array<{ mode: string; announced: string[] }> | undefined {
  const groups = (status as { announce?: { groups?: unknown } }).announce?.groups;
  if (!Array.isArray(groups)) return undefined;
  return groups.map((entry: { mode?: unknown; announced?: unknown }) => ({
    mode: String(entry?.mode),
    announced: Array.isArray(entry?.announced) ? entry.announced.map(String) : [],
  }));
}

interface LooseStatus {
  identity?: unknown;
  state?: { active?: unknown; inactive_reason?: unknown; ownership?: unknown } | null;
  config?: { vips?: unknown } | null;
  ineligible?: unknown;
}

/** The parts of a status reply the report needs, checked, since it comes off the wire. */
function readStatus(status: unknown): {
  identity: unknown;
  state: { active: unknown; inactive_reason: unknown; ownership: Record<string, unknown> };
  config: { vips: unknown[] };
  ineligible: Array<{ group: number; reasons: string[] }>;
} {
  if (typeof status !== 'object' || status === null) throw new StatusFormatError('the status reply is not a JSON object');
  const { identity, state, config, ineligible } = status as LooseStatus;
  if (typeof state !== 'object' || state === null) throw new StatusFormatError('the status reply has no "state" object');
  if (typeof config !== 'object' || config === null || !Array.isArray(config.vips)) {
    throw new StatusFormatError('the status reply has no "config.vips" list');
  }
  // The original daemon reports {} until its first solve; tolerate a missing map the same way.
  const ownership = state.ownership ?? {};
  if (typeof ownership !== 'object' || ownership === null) throw new StatusFormatError('"state.ownership" is not an object');
  return {
    identity,
    state: { active: state.active, inactive_reason: state.inactive_reason, ownership: ownership as Record<string, unknown> },
    config: { vips: config.vips },
    ineligible: Array.isArray(ineligible)
      ? ineligible.filter((entry): entry is { group: number; reasons: string[] } =>
        typeof entry === 'object' && entry !== null && typeof entry.group === 'number' && Array.isArray(entry.reasons))
      : [],
  };
}
