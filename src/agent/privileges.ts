// What vippyd checks about its own privileges at start: the two capabilities it cannot work
// without, and whether the config file (which holds the cluster secret) is open to other users.
// Root is not required: systemd's AmbientCapabilities (packaging/vippyd.service) or
// `setpriv --ambient-caps` give an unprivileged user exactly these two.

import { readFileSync, statSync } from 'node:fs';

/** Capability numbers from linux/capability.h, with what vippyd needs each one for. */
export const REQUIRED_CAPABILITIES = [
  { name: 'CAP_NET_ADMIN', bit: 12, usedFor: 'adding and removing the virtual addresses' },
  { name: 'CAP_NET_RAW', bit: 13, usedFor: 'sending gratuitous ARP and neighbour advertisements' },
] as const;

const PROC_STATUS = '/proc/self/status';

/**
 * Names of the required capabilities missing from the effective set, in REQUIRED_CAPABILITIES
 * order ([] when all are there). `procStatus` is the text of /proc/self/status (read when omitted).
 */
export function missingCapabilities(procStatus: string = readFileSync(PROC_STATUS, 'utf8')): string[] {
  const line = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(procStatus);
  if (!line) throw new Error(`${PROC_STATUS}: no CapEff line, cannot tell which capabilities vippyd has`);
  const effective = BigInt(`0x${line[1]}`);
  return REQUIRED_CAPABILITIES.filter((cap) => (effective & (1n << BigInt(cap.bit))) === 0n).map((cap) => cap.name);
}

/** The refusal to print when `missing` (from missingCapabilities) is not empty. */
export function missingCapabilitiesMessage(missing: readonly string[]): string {
  const reasons = REQUIRED_CAPABILITIES.filter((cap) => missing.includes(cap.name))
    .map((cap) => `${cap.name} (for ${cap.usedFor})`)
    .join(' and ');
  return `missing capability ${reasons}: run vippyd as root, or grant it with `
    + 'AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW (see packaging/vippyd.service) '
    + 'or setpriv --inh-caps=+net_admin,+net_raw --ambient-caps=+net_admin,+net_raw';
}

/**
 * A warning when the config file at `path` can be read (or written) by its group or by others:
 * it holds the cluster secret, and whoever reads it can forge announcements. Undefined when the
 * mode is private. Throws the fs error when the file cannot be stat'ed.
 */
export function secretFileWarning(path: string): string | undefined {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  const octal = mode.toString(8).padStart(4, '0');
  return `${path} holds the cluster secret but has mode ${octal} (group or others have access); fix: chmod 600 ${path}`;
}
