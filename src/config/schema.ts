// The file formats, defined once with zod: the same definitions validate files and produce the
// JSON Schema (schema/*.schema.json) and the key reference (docs/configuration.md).
// `x-since` says whether a key comes from the original program or is new in this rebuild;
// `x-default` describes defaults that depend on other keys (and so cannot be a plain value).

import { z } from 'zod';
import { cidrProblem, canonicalIp, parseHostPort } from './addresses.js';

interface KeyDoc {
  since: 'vippy' | 'flip' | 'new';
  description: string;
  defaultText?: string;
}

function doc<T extends z.ZodType>(schema: T, { since, description, defaultText }: KeyDoc): T {
  return schema.meta({ description, 'x-since': since, ...(defaultText === undefined ? {} : { 'x-default': defaultText }) });
}

// Durations in vippy files are seconds; the unit lets the reference say so.
const seconds = () => z.number().nonnegative().meta({ 'x-unit': 'seconds' });
const positiveSeconds = () => z.number().positive().meta({ 'x-unit': 'seconds' });

const cidr = z.string().superRefine((text, ctx) => {
  const problem = cidrProblem(text);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const hostPort = (example: string) =>
  z.string().refine((text) => parseHostPort(text) !== undefined, {
    error: (issue) => `${JSON.stringify(issue.input)} is not "ADDRESS:PORT" (for example "${example}")`,
  });

export const syslogLevels = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export const syslogFacilities = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

const vipEntry = z.strictObject({
  interface: z.string().min(1).optional().describe('Network interface the address is plumbed on. May differ per host. Required in l2 groups; routed groups use `announce.interface` (leave it out, or give that name).'),
  ip: cidr.describe('"address/prefix-length"; a missing length means /32 (IPv4) or /128 (IPv6). Routed groups take host addresses only (/32, /128).'),
  state: z.string().min(1).optional().describe('Carried through to plugins and status, e.g. "preplumbed" (original, SmartOS).'),
});

export const announceModes = ['l2', 'routed'] as const;

/**
 * A group's options, written as one more element of its array so that the group stays an array.
 * Two shapes, each requiring one key, so that an object with neither (a mistyped address entry)
 * matches no shape and the error names the closest one.
 */
const groupAnnounce = z.enum(announceModes).meta({ 'x-default': '—' }).describe('How this group is announced, overriding `announce.mode`: "l2" or "routed".');
const groupChecks = z.array(z.string().min(1)).meta({ 'x-default': '—' }).describe('Names of checks (keys of `checks`) that make this node ineligible for this group while they fail.');
const groupOptions = z.union([
  z.strictObject({ announce: groupAnnounce, checks: groupChecks.optional() }),
  z.strictObject({ checks: groupChecks, announce: groupAnnounce.optional() }),
], { error: 'must be a group\'s options {"announce", "checks"}' }).meta({ 'x-since': 'new' });

// Linux interface names: 1 to 15 characters, no '/', ':' or white space.
const interfaceName = z.string().regex(/^[^/:\s]{1,15}$/, {
  error: (issue) => `${JSON.stringify(issue.input)} is not an interface name (1 to 15 characters, no "/", ":" or spaces)`,
});

const notifyNetwork = z.strictObject({
  interface: z.string().min(1).describe('Interface name (informational, as in the original).'),
  ip: cidr.describe('"network/prefix-length": every address of this network is notified.'),
});

const nodeObject = z.strictObject({
  name: z.string().min(1).describe('Node name (what `vippyd -n` or the host name gives).'),
  address: z.string().refine((text) => canonicalIp(text) !== undefined, {
    error: (issue) => `${JSON.stringify(issue.input)} is not an IP address`,
  }).describe('Unicast address this node receives announcements on.'),
  port: z.number().int().min(1).max(65535).optional().describe('UDP port; defaults to the port of `chat`.'),
}).meta({ 'x-since': 'new' });

export const checkKinds = ['exec', 'tcp', 'http', 'file', 'process', 'interface'] as const;

/** One health check. Which keys a kind needs (and allows) is checked by normalization, which can name the kind. */
const checkSchema = z.strictObject({
  kind: z.enum(checkKinds).describe('"exec" (a command, exit 0 passes), "tcp" (connect), "http" (GET a URL), "file" (keepalived\'s track_file: the file puts the node into maintenance), "process" (a process runs), "interface" (a NIC has carrier).'),
  node: z.boolean().default(false).describe('Applies to every group of this node. Otherwise the check covers only the groups (and flip systems) that name it.'),
  interval: positiveSeconds().default(1).describe('Seconds from the start of one run to the start of the next (runs never overlap). "interface" checks follow netlink events instead.'),
  timeout: positiveSeconds().optional().meta({ 'x-default': 'interval' }).describe('Seconds a run may take; a run that takes longer fails (an exec check is killed with its whole process group).'),
  rise: z.number().int().min(1).default(2).describe('Consecutive passes that make a failing check pass.'),
  fall: z.number().int().min(1).default(1).describe('Consecutive failures that make a passing check fail.'),
  initial: z.enum(['fail', 'pass']).default('fail').describe('State until the first result, which alone decides it (keepalived\'s init_fail is "fail"). A check added by a reload starts here too.'),
  when_all_fail: z.enum(['keep', 'release']).default('keep').describe('When this check fails on every node that could hold a group: "keep" leaves the group on its holder (a degraded service beats a black hole; a group nobody holds stays unheld); "release" lets nobody hold it.'),
  command: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)], { error: 'must be an argv array such as ["/usr/bin/check", "--quick"], or a string with "shell": true' })
    .optional().describe('exec: the program and its arguments, run without a shell; a string runs with `/bin/sh -c` and needs "shell": true. Environment: VIPPY_CHECK (the check\'s name) and VIPPY_NODE.'),
  shell: z.boolean().optional().describe('exec: run `command` (a string) with /bin/sh -c.'),
  user: z.union([z.string().min(1), z.number().int().nonnegative()]).optional().describe('exec: user (name or uid) the command runs as; its primary group too. Absent: vippyd\'s own.'),
  connect: hostPort('127.0.0.1:80').optional().describe('tcp: "ADDRESS:PORT" ("[IPv6]:PORT") to connect to; connected within the timeout passes.'),
  url: z.string().regex(/^https?:\/\/[^/\s]/, { error: (issue) => `${JSON.stringify(issue.input)} is not an http:// or https:// URL` })
    .optional().describe('http: the URL to GET (http or https).'),
  status: z.array(z.number().int().min(100).max(599)).min(1).optional().meta({ 'x-default': 'any 2xx' }).describe('http: status codes that pass.'),
  body: z.string().min(1).optional().describe('http: text the response body must contain (within its first 64 KiB).'),
  insecure: z.boolean().optional().describe('http: accept any TLS certificate (https to a self-signed local endpoint).'),
  path: z.string().min(1).optional().describe('file: the path. While the file exists the check fails (the node is in maintenance), unless the file holds the number 0.'),
  name: z.string().min(1).optional().describe('process: the process name (as in /proc/PID/comm, or the base name of its program).'),
  pidfile: z.string().min(1).optional().describe('process: a file holding the PID of the process.'),
  interface: z.string().min(1).optional().describe('interface: the NIC whose carrier and operational state are watched (netlink events, not polled).'),
});

const checkName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: (issue) => `check name ${JSON.stringify(issue.input)} may only hold letters, digits, "_", "." and "-" (at most 64)` });

const numericString = z.string().regex(/^\d+(\.\d+)?$/, {
  error: (issue) => `must be a number of seconds (or a numeric string such as "90"), not ${JSON.stringify(issue.input)}`,
});

/** Keys shared by vippy files and (as extensions) flip files. */
const operatorKeys = {
  no_quorum_policy: doc(z.enum(['stop', 'freeze', 'ignore']).optional(), {
    since: 'new',
    description: 'What a node does while it sees fewer than `quorum` nodes: "stop" releases everything, "freeze" keeps what it holds and takes nothing new, "ignore" acts alone (the original behaviour). Only meaningful when quorum > 1.',
    defaultText: '"stop" when quorum > 1 ("freeze" for flip files), otherwise "ignore"',
  }),
  management: doc(z.string().min(1).default('/var/run/vippy.socket'), {
    since: 'vippy',
    description: 'Path of the unix socket that vippyctl talks to (HTTP).',
  }),
  management_mode: doc(
    z.union([
      z.string().regex(/^0?[0-7]{3}$/, { error: (issue) => `must be an octal mode such as "0660", not ${JSON.stringify(issue.input)}` }),
      z.number().int().min(0).max(0o777, { error: (issue) => `${JSON.stringify(issue.input)} is not a mode: write octal modes as a string such as "0660"` }),
    ], { error: 'must be an octal mode string such as "0660"' }).default('0600'),
    { since: 'new', description: 'File mode of the management socket: an octal string such as "0660".' },
  ),
  management_group: doc(z.union([z.string().min(1), z.number().int().nonnegative()]).optional(), {
    since: 'new',
    description: 'Group (name or gid) that owns the management socket, so its members may use vippyctl.',
  }),
  metrics: doc(
    z.strictObject({ listen: hostPort('127.0.0.1:9477').describe('"ADDRESS:PORT" of the Prometheus /metrics listener.') }).optional(),
    { since: 'new', description: 'Prometheus metrics over HTTP. Absent: no listener.' },
  ),
  address_lease: doc(z.number().int().nonnegative().max(2 ** 31 - 1).optional().meta({ 'x-unit': 'seconds' }), {
    since: 'new',
    description: 'Kernel lifetime of the addresses this node plumbs, renewed several times per lease while vippyd runs: the last resort that removes a killed or frozen vippyd\'s addresses (about lease to lease + 1 s after its last renewal) should its fence keeper die too. The keeper acts first: at once when vippyd dies, stale - interval / 2 after its last announcement when it stops running (docs/operations.md, "The fence keeper"). Whole seconds; 0: permanent addresses and no fence keeper, so a killed vippyd leaves its addresses behind (the original behaviour). The default runs out before a peer can take over, so a frozen vippyd\'s VIPs go unanswered from then until the takeover (up to about 2 s at the default timings).',
    defaultText: 'the longest lease that expires before a peer takes over: floor((stale + takeover_guard - interval) / 1 s) - 1, at least 1',
  }),
  plugins: doc(z.array(z.string().min(1)).default([]), {
    since: 'vippy',
    description: 'Plugin files loaded at start (the `-p` options are appended).',
  }),
  checks: doc(z.record(checkName, checkSchema).default({}), {
    since: 'new',
    description: 'Health checks by name. A failing check makes this node ineligible for the groups it covers (every group with "node": true, else those naming it), which move away at once. Local to this host: checks are not sent to peers.',
  }),
};

export const vippyFileSchema = z.strictObject({
  chat: doc(hostPort('239.192.0.1:8945'), {
    since: 'vippy',
    description: '"ADDRESS:PORT" of the announcements: a multicast group, or (when every node has an address) the local address and default port for unicast.',
  }),
  chat_interface: doc(z.string().min(1).default('all'), {
    since: 'vippy',
    description: 'Where to join the multicast group: "all", an interface address, or a NIC name.',
  }),
  chat_ttl: doc(z.number().int().min(1).max(255).default(1), {
    since: 'new',
    description: 'Multicast TTL of announcements (1 keeps them on the local segment; the original used 128).',
  }),
  secret: doc(z.string({ error: (issue) => (issue.input === undefined ? 'is required: the shared key that signs announcements' : undefined) })
    .min(1, { error: 'must not be empty: it is the shared key that signs announcements' }), {
    since: 'vippy',
    description: 'Shared key of the HMAC-SHA256 that signs every announcement. Required; use at least 16 characters. Never logged or shown.',
  }),
  version: doc(z.number().int().nonnegative().default(0), {
    since: 'vippy',
    description: 'Version of `vips` and `nodes`: the highest version in the cluster is adopted by every node.',
  }),
  vips: doc(
    z.array(
      z.array(
        z.union([z.string().min(1), vipEntry, groupOptions], {
          error: 'must be a node name (first element only), {"interface", "ip"} or a group\'s options {"announce", "checks"}',
        }),
      ),
    ),
    {
      since: 'vippy',
      description: 'Groups of addresses that move together. A group may start with the name of its preferred node, and may hold one options element (new): `{"announce": "l2" | "routed"}` sets how it is announced, `{"checks": [...]}` names the checks it depends on (both may be in the one element).',
    },
  ),
  nodes: doc(
    z.array(z.union([z.string().min(1), nodeObject], { error: 'must be a node name or {"name", "address", "port"}' })).min(1),
    {
      since: 'vippy',
      description: 'The cluster members, in the same order on every node. Names, or (new) objects with an address: then chat is unicast.',
    },
  ),
  interval: doc(positiveSeconds().default(1), { since: 'vippy', description: 'Seconds between announcements (fractions allowed).' }),
  mature: doc(seconds().default(5), {
    since: 'vippy',
    description: 'Seconds the config must stay unchanged before this node takes part ("booting" until then).',
  }),
  stale: doc(positiveSeconds().default(3), {
    since: 'vippy',
    description: 'Seconds without an announcement after which a peer counts as down. Must exceed `interval`.',
  }),
  'arp-cache': doc(
    z.union([z.number().positive(), numericString], { error: 'must be a number of seconds (or a numeric string such as "90")' }).default(15),
    { since: 'vippy', description: 'Seconds between scans of the local neighbour table, shared with the cluster. A numeric string is accepted.' },
  ),
  notify: doc(
    z.array(z.union([z.literal('arp-cache'), notifyNetwork], { error: 'must be "arp-cache" or {"interface", "ip"}' })).default([]),
    {
      since: 'vippy',
      description: 'Who is told (gratuitous ARP / unsolicited NA) when this node takes a group: "arp-cache" (hosts in the cluster\'s shared neighbour tables) and networks of any prefix (every address of the network inside the VIP\'s own subnet). Per VIP and takeover at most 65,536 network addresses are notified (the first ones; loading a file whose notify network overlaps a VIP subnet by more warns), on top of every arp-cache host, so a /8 costs no more than a /16.',
    },
  ),
  logging: doc(
    z.strictObject({
      driver: z.enum(['console', 'syslog', 'none']).default('console').describe('"console" (stdout), "syslog", or "none".'),
      facility: z.enum(syslogFacilities).default('local7').describe('Syslog facility.'),
      mask: z
        .strictObject(Object.fromEntries(syslogLevels.map((level) => [level, z.boolean().optional()])) as Record<
          (typeof syslogLevels)[number],
          z.ZodOptional<z.ZodBoolean>
        >)
        .optional()
        .describe('Levels to log (true) or drop. Absent: every level for "syslog" (the original set no mask); for "console" emerg, alert, crit, err, notice on and warning, info, debug off (the original console logger\'s). Levels left out of a given mask are off.'),
      json: doc(z.boolean().default(false), { since: 'new', description: 'One JSON object per line instead of readable text.' }),
    }).prefault({}),
    { since: 'vippy', description: 'Where and what to log.' },
  ),
  quorum: doc(z.number().int().min(1).optional(), {
    since: 'new',
    description: 'Nodes (itself included) a node must see to act on placement. 1 = no quorum (the original behaviour); at most the number of nodes.',
    defaultText: '1',
  }),
  ...operatorKeys,
  placement: doc(z.enum(['vippy', 'balanced']).default('vippy'), {
    since: 'new',
    description: '"vippy": the original rule (preferred node, else lowest md5(node|ip)); "balanced": no node holds more than its share of groups.',
  }),
  preempt: doc(z.boolean().default(true), {
    since: 'new',
    description: 'Whether a group returns to its preferred node when that node comes back (the original always did).',
  }),
  preempt_delay: doc(seconds().default(0), {
    since: 'new',
    description: 'Seconds a returning preferred node must be active before it takes its groups back.',
  }),
  takeover_guard: doc(seconds().optional(), {
    since: 'new',
    description: 'Extra seconds after `stale` before taking over a silent node\'s groups, so that under "stop" it has let go first. At least `interval` when quorum > 1, and then the wait after `stale` is never shorter than three intervals: a node whose peers stop hearing it learns so from their announcements within two and a half and lets go first.',
    defaultText: '0 when quorum is 1, otherwise `interval`',
  }),
  announce: doc(
    z.strictObject({
      mode: z.enum(announceModes).default('l2').describe('Mode of groups without their own {"announce"} element: "l2" (addresses on the NIC, gratuitous ARP / unsolicited NA) or "routed" (host routes that the routing daemon on this host, e.g. BIRD or FRR, exports to the routers; no ARP/NA).'),
      interface: interfaceName.default('vippy0').describe('Dummy interface vippyd creates (if missing), sets up and owns: a routed group\'s holder plumbs its addresses on it as /32 or /128 (export with BIRD `protocol direct`, FRR `redistribute connected`). On kernels without the dummy driver an ifb interface is made instead.'),
      table: z.number().int().min(1).max(2 ** 31 - 1)
        .refine((table) => table < 253 || table > 255, { error: 'must not be 253, 254 or 255 (the kernel\'s default, main and local tables)' })
        .optional()
        .describe('Kernel routing table: the holder also adds a route per routed address there (device `interface`, protocol `protocol`; export with BIRD `protocol kernel` importing that table, FRR `redistribute table`). Absent: no routes.'),
      protocol: z.number().int().min(5).max(255).default(201).describe('rtnetlink protocol number of those routes (5-255; 0-4 are the kernel\'s own).'),
    }).prefault({}),
    { since: 'new', description: 'How groups are announced: on the local segment (l2) or to a routed fabric through the host\'s routing daemon (routed). See docs/routed.md.' },
  ),
  arp: doc(
    z.strictObject({
      burst_count: z.number().int().min(1).max(100).default(5).describe('Gratuitous ARP / NA frames sent at once on takeover.'),
      burst_spacing: seconds().default(0.02).describe('Seconds between the frames of a burst.'),
      repeat_delay: seconds().default(5).describe('Seconds before the burst is repeated once (0: no repeat).'),
      refresh: seconds().default(0).describe('Seconds between re-announcements while holding a group (0: off).'),
      notify_rate: z.number().positive().default(500).describe('Notify targets (hosts) per second per group, so announcements are never delayed.'),
    }).prefault({}),
    { since: 'new', description: 'How the network is told about a takeover (keepalived-like defaults).' },
  ),
});

export type VippyFile = z.output<typeof vippyFileSchema>;

const flipServer = z.strictObject({
  ip: z.string().refine((text) => canonicalIp(text) !== undefined, {
    error: (issue) => `${JSON.stringify(issue.input)} is not an IP address`,
  }).describe('Address this server receives gossip on.'),
  port: z.number().int().min(1).max(65535).describe('UDP port.'),
  systems: z.array(z.string().min(1)).default([]).describe('Systems this server holds data for; none: an arbiter that only votes.'),
  priority: z.number().optional().describe('Lower numbers come first in member order (servers without one come last, by id).'),
});

export const flipSystemSchema = z.strictObject({
  alive: z.string().min(1).optional().describe('Script run as `alive POINT CONFIG_JSON` when a data point is assigned here. Absent (with address data): built-in VIP plumbing.'),
  down: z.string().min(1).optional().describe('Script run as `down POINT CONFIG_JSON` when a data point leaves.'),
  type: z.enum(['shard', 'sharded', 'replicate', 'replicated']).describe('"shard": each point on one member; "replicated": every member holds every point. Both spellings are accepted.'),
  config: z.record(z.string(), z.unknown()).default({}).describe('Overlaid on `cluster.config` and passed to the scripts as JSON (`interface` names the NIC for address data).'),
  data: z.array(z.string().min(1)).default([]).describe('Data points (strings; IP addresses for VIPs).'),
  delay: z.number().nonnegative().default(500).describe('Milliseconds to wait, merging changes that come together, before a new plan\'s scripts run (each change restarts the wait, as in flip). Systems plumbed by vippyd itself act at once.'),
  remove_on_start: z.boolean().optional().describe('flip\'s (inverted) name: true keeps whatever this server may still hold of the system at start; false runs `down` at start for every point not assigned here. Absent: `cluster.remove_on_start`. Points vippyd plumbs itself (no scripts) are always cleaned up.'),
  checks: doc(z.array(z.string().min(1)).optional(), { since: 'new', description: 'Names of checks (keys of `checks`) that make this server ineligible for every point of the system while they fail.' }),
});

export const flipFileSchema = z.strictObject({
  id: doc(z.string().min(1), { since: 'flip', description: 'This server\'s id: a key of `servers`. `vippyd -c FILE` runs as this server (`-n` overrides it).' }),
  quorum: doc(z.number().int().min(1).optional(), {
    since: 'flip',
    description: 'Servers (arbiters included) that must agree before a peer is declared down and data moves.',
    defaultText: 'floor(servers / 2) + 1',
  }),
  gossip_interval: doc(z.number().positive().default(1000), { since: 'flip', description: 'Milliseconds between announcements.' }),
  key: doc(z.string({ error: (issue) => (issue.input === undefined ? 'is required: the shared key that signs announcements' : undefined) })
    .min(1, { error: 'must not be empty: it is the shared key that signs announcements' }), { since: 'flip', description: 'Shared HMAC key (flip sent it in clear; vippyd never does).' }),
  ping_per_interval: doc(z.number().int().min(1).default(1), {
    since: 'flip',
    description: 'Accepted for compatibility: vippyd announces to every server each interval.',
  }),
  ping_timeout: doc(z.number().positive().default(1500), {
    since: 'flip',
    description: 'Milliseconds without a packet after which a peer is probably down. Also how long a starting node listens before it acts.',
  }),
  log_level: doc(z.enum(['debug', 'info', 'warning', 'error', 'fatal']).default('info'), {
    since: 'flip',
    description: 'Lowest level logged.',
  }),
  servers: doc(z.record(z.string().min(1), flipServer), { since: 'flip', description: 'Every server of the cluster by id.' }),
  cluster: doc(
    z.strictObject({
      config: z.record(z.string(), z.unknown()).default({}).describe('Configuration shared by every system.'),
      system: z.record(z.string().min(1), flipSystemSchema).describe('The systems (named sets of data points) by name.'),
      remove_on_start: z.boolean().default(false).describe('Default of every system\'s `remove_on_start`.'),
      remove_on_failure: z.boolean().default(true).describe('Whether a clean stop (SIGTERM, SIGINT, SIGQUIT) runs `down` for everything held (vippyd-plumbed addresses are released) and tells the peers, who then take over at once. false: the stop leaves everything in place and says nothing, so the peers take over only after `ping_timeout` with quorum, as in flip (addresses vippyd plumbed still expire with their `address_lease`).'),
    }),
    { since: 'flip', description: 'The data the cluster divides.' },
  ),
  version: doc(z.number().int().nonnegative().default(0), {
    since: 'new',
    description: 'Version of `servers` and `cluster.system` data: the highest version in the cluster is adopted.',
  }),
  ...operatorKeys,
});

export type FlipFile = z.output<typeof flipFileSchema>;

/** The cluster part of a vippy config that travels between nodes (config graduation). */
export const vippyTransferSchema = z.strictObject({
  version: vippyFileSchema.shape.version,
  vips: vippyFileSchema.shape.vips,
  nodes: vippyFileSchema.shape.nodes,
});

/** The cluster part of a flip config that travels between nodes: servers and the systems' data. */
export const flipTransferSchema = z.strictObject({
  version: flipFileSchema.shape.version,
  servers: flipFileSchema.shape.servers,
  systems: z.record(z.string().min(1), flipSystemSchema),
});
