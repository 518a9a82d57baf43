// Scenario scripts in the style of etcd-io/raft's testdata: each block is one command, a line
// "----", and the transcript that command produced, ended by a blank line. Running a script
// regenerates every transcript; the test compares the whole file (VIPPY_SIM_REWRITE=1 writes it).
// Comment lines (#) may stand anywhere between blocks and are kept when rewriting.
//
// The network delay is fixed and written in the file (delay=D on the cluster line): a transcript
// depends on nothing random unless the file asks for loss or duplication (drawn from seed=N).
// Random delays are for the seeded random runs (random-run.ts).
//
// Commands (durations like 500ms, 3s; node lists comma-separated):
//   cluster nodes=a,b groups=N delay=D [prefer=G:node,..] [iface=G:eth1,..] [size=G:addresses,..] [quorum=N]
//           [policy=stop|freeze|ignore] [placement=vippy|balanced] [preempt=false] [preempt-delay=D]
//           [interval=D] [stale=D] [mature=D] [guard=D] [seed=N] [loss=P]
//   start [a b ..]        crash a      restart a     freeze a     resume a     stop a
//   run D                 heal         partition a,b | c,d         block a -> b,c
//   net [loss=P] [dup=P] [delay=D]
//   health a REASON=true|false         carrier a IFACE up|down
//   check a NAME pass|fail [REASON..]  (cluster ... checks=NAME:G+G|all[:release],..: which groups each check covers)
//   load a version=N [groups=N] [variant=N] [prefer=..]   (config-loaded: a SIGHUP with a new file)
//   holders               status a

import { Cluster } from './cluster.js';
import { simConfig, type SimConfigSpec } from './config.js';
import { status } from '../../src/core/index.js';
import type { NoQuorumPolicy, PlacementStrategy } from '../../src/config/model.js';

export interface Block {
  /** Comment lines (and the blank lines between them) just before the command, as written. */
  comments: string[];
  command: string;
  /** 1-based line of the command in the file. */
  line: number;
  output: string;
}

export function parseScript(text: string, name: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.startsWith('#')) {
      comments.push(line);
      i++;
      continue;
    }
    if (line.trim() === '') {
      // A blank line inside a run of comments belongs to it; blank lines around blocks do not.
      if (comments.length > 0) comments.push(line);
      i++;
      continue;
    }
    if (lines[i + 1] !== '----') throw new Error(`${name}:${i + 2}: expected "----" after the command "${line}"`);
    const block: Block = { comments: trimBlankEnd(comments), command: line, line: i + 1, output: '' };
    const output: string[] = [];
    i += 2;
    while (i < lines.length && lines[i] !== '') output.push(lines[i++]!);
    block.output = output.join('\n');
    blocks.push(block);
    comments = [];
  }
  if (comments.length > 0) blocks.push({ comments: trimBlankEnd(comments), command: '', line: lines.length, output: '' });
  return blocks;
}

function trimBlankEnd(lines: string[]): string[] {
  let end = lines.length;
  while (end > 0 && lines[end - 1]!.trim() === '') end--;
  return lines.slice(0, end);
}

/** Comments go before their command, followed by a blank line; a trailing comment closes the file. */
export function formatScript(blocks: readonly Block[]): string {
  return blocks.map((block) => {
    const comments = block.comments.length > 0 ? `${block.comments.join('\n')}\n${block.command === '' ? '' : '\n'}` : '';
    return block.command === '' ? comments : `${comments}${block.command}\n----\n${block.output}\n`;
  }).join('\n');
}

function duration(text: string, where: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text);
  if (match === null) throw new Error(`${where}: "${text}" is not a duration (like 500ms or 3s)`);
  return Number(match[1]) * (match[2] === 's' ? 1000 : 1);
}

function keyValues(words: readonly string[], where: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const word of words) {
    const at = word.indexOf('=');
    if (at <= 0) throw new Error(`${where}: expected key=value, got "${word}"`);
    map.set(word.slice(0, at), word.slice(at + 1));
  }
  return map;
}

function pairs(text: string | undefined): Record<number, string> {
  if (text === undefined) return {};
  return Object.fromEntries(text.split(',').map((pair) => {
    const [group, value] = pair.split(':');
    return [Number(group), value!];
  }));
}

export class ScenarioRunner {
  private cluster: Cluster | undefined;
  private spec: SimConfigSpec | undefined;

  constructor(private readonly name: string) {}

  run(command: string, line: number): string {
    const where = `${this.name}:${line}`;
    const [verb, ...args] = command.trim().split(/\s+/);
    if (verb === 'cluster') return this.createCluster(args, where);
    const cluster = this.cluster;
    if (cluster === undefined) throw new Error(`${where}: "cluster" must come first`);
    const mark = cluster.transcript.length;
    const extra: string[] = [];
    switch (verb) {
      case 'start':
        for (const name of args.length > 0 ? args : [...cluster.nodes.keys()]) cluster.start(name);
        break;
      case 'crash': cluster.crash(args[0]!); break;
      case 'restart': cluster.restart(args[0]!); break;
      case 'freeze': cluster.freeze(args[0]!); break;
      case 'resume': cluster.resume(args[0]!); break;
      case 'stop': cluster.stop(args[0]!); break;
      case 'run': cluster.run(duration(args[0] ?? '', where)); break;
      case 'heal': cluster.heal(); break;
      case 'partition':
        cluster.partition(args.join(' ').split('|').map((side) => side.trim().split(',').filter(Boolean)));
        break;
      case 'block': {
        const [from, arrow, to] = args;
        if (arrow !== '->' || from === undefined || to === undefined) throw new Error(`${where}: usage: block a -> b,c`);
        cluster.block(from, to.split(','));
        break;
      }
      case 'net': {
        const options = keyValues(args, where);
        const delay = options.has('delay') ? duration(options.get('delay')!, where) : undefined;
        cluster.setNet({
          ...(options.has('loss') ? { loss: Number(options.get('loss')) } : {}),
          ...(options.has('dup') ? { duplicate: Number(options.get('dup')) } : {}),
          ...(delay !== undefined ? { delayMin: delay, delayMax: delay } : {}),
        });
        break;
      }
      case 'health': {
        const [name, setting] = args;
        const [reason, value] = (setting ?? '').split('=');
        if (name === undefined || !reason || (value !== 'true' && value !== 'false')) throw new Error(`${where}: usage: health a reason=true|false`);
        cluster.inject(name, { type: 'health', reason, ok: value === 'true' });
        break;
      }
      case 'carrier': {
        const [name, iface, state] = args;
        if (name === undefined || iface === undefined || (state !== 'up' && state !== 'down')) throw new Error(`${where}: usage: carrier a eth1 up|down`);
        cluster.inject(name, { type: 'carrier', interface: iface, up: state === 'up' });
        break;
      }
      case 'check': {
        const [name, check, verdict, ...reason] = args;
        if (name === undefined || check === undefined || (verdict !== 'pass' && verdict !== 'fail')) throw new Error(`${where}: usage: check a NAME pass|fail [reason]`);
        cluster.inject(name, { type: 'check', name: check, ok: verdict === 'pass', reason: reason.join(' ') || verdict });
        break;
      }
      case 'load': {
        const [name, ...rest] = args;
        const options = keyValues(rest, where);
        const spec: SimConfigSpec = { ...this.spec! };
        if (options.has('version')) spec.version = Number(options.get('version'));
        if (options.has('groups')) spec.groups = Number(options.get('groups'));
        if (options.has('variant')) spec.variant = Number(options.get('variant'));
        if (options.has('prefer')) spec.prefer = pairs(options.get('prefer'));
        cluster.inject(name!, { type: 'config-loaded', config: simConfig(spec) });
        break;
      }
      case 'holders':
        extra.push(...cluster.describeHolders());
        break;
      case 'status': {
        const node = cluster.nodes.get(args[0] ?? '');
        if (node?.core == null) throw new Error(`${where}: status needs a running node`);
        const s = status(node.core);
        const ineligible = s.ineligible.map((entry) => `  ineligible ${entry.group}: ${entry.reasons.join('; ')}`);
        extra.push(
          `${s.self}: ${s.mode}${s.inactiveReason === null ? '' : ` (${s.inactiveReason})`}, v${s.version}, quorum ${s.quorum.seen}/${s.quorum.needed}${s.quorum.ok ? '' : ' (none)'}, heard by ${s.quorum.heardBy}, holds [${s.held.join(' ')}]`,
          `ownership ${JSON.stringify(s.ownership)}`,
          ...s.peers.map((p) => `  ${p.name}: ${p.fresh ? 'fresh' : p.alive ? 'vouched' : 'silent'}${p.active ? ' active' : ''}${p.leaving ? ' leaving' : ''} holds [${p.held.join(' ')}]`),
          ...ineligible,
        );
        break;
      }
      default:
        throw new Error(`${where}: unknown command "${verb}"`);
    }
    const lines = [...cluster.transcript.slice(mark), ...extra];
    return lines.length === 0 ? '(nothing)' : lines.join('\n');
  }

  private createCluster(args: string[], where: string): string {
    const options = keyValues(args, where);
    const ms = (key: string) => (options.has(key) ? duration(options.get(key)!, where) : undefined);
    const nodes = options.get('nodes')?.split(',');
    if (nodes === undefined) throw new Error(`${where}: cluster needs nodes=a,b,...`);
    const spec: SimConfigSpec = {
      nodes,
      groups: Number(options.get('groups') ?? 1),
      prefer: pairs(options.get('prefer')),
      interfaces: pairs(options.get('iface')),
      sizes: Object.fromEntries(Object.entries(pairs(options.get('size'))).map(([g, n]) => [g, Number(n)])),
      quorum: Number(options.get('quorum') ?? 1),
      placement: (options.get('placement') ?? 'vippy') as PlacementStrategy,
      preempt: options.get('preempt') !== 'false',
    };
    if (options.has('checks')) {
      spec.checks = Object.fromEntries(options.get('checks')!.split(',').map((entry) => {
        const [name, groups, policy] = entry.split(':');
        if (!name || !groups || (policy !== undefined && policy !== 'release' && policy !== 'keep')) throw new Error(`${where}: checks=NAME:G+G|all[:release],...`);
        return [name, { groups: groups === 'all' ? 'all' as const : groups.split('+').map(Number), whenAllFail: policy ?? 'keep' }];
      }));
    }
    if (options.has('policy')) spec.policy = options.get('policy') as NoQuorumPolicy;
    for (const [key, field] of [['interval', 'intervalMs'], ['stale', 'staleMs'], ['mature', 'matureMs'], ['guard', 'guardMs'], ['preempt-delay', 'preemptDelayMs']] as const) {
      const value = ms(key);
      if (value !== undefined) spec[field] = value;
    }
    if (!options.has('delay')) throw new Error(`${where}: cluster needs delay=D, the fixed network delay (like delay=2ms)`);
    const delay = duration(options.get('delay')!, where);
    this.spec = spec;
    const config = simConfig(spec);
    this.cluster = new Cluster({
      seed: Number(options.get('seed') ?? 1),
      config,
      net: { loss: Number(options.get('loss') ?? 0), delayMin: delay, delayMax: delay },
    });
    const t = config.timing;
    return `${nodes.length} nodes, ${spec.groups} groups, quorum ${config.quorum} (${config.noQuorumPolicy}), interval ${t.intervalMs} stale ${t.staleMs} guard ${t.guardMs} mature ${t.matureMs} ms, delay ${delay} ms`;
  }
}

/** Runs a script and returns it with every transcript regenerated. */
export function runScript(text: string, name: string): string {
  const runner = new ScenarioRunner(name);
  const blocks = parseScript(text, name).map((block) => (block.command === '' ? block : { ...block, output: runAt(runner, name, block) }));
  return formatScript(blocks);
}

/** Runs one block; an error from the simulator (not from the parser, which names the line) gets the block's line. */
function runAt(runner: ScenarioRunner, name: string, block: Block): string {
  try {
    return runner.run(block.command, block.line);
  } catch (error) {
    if (error instanceof Error && !error.message.startsWith(`${name}:`)) error.message = `${name}:${block.line}: ${error.message}`;
    throw error;
  }
}
