// One description per command line, read by parseArgs (the options), by --help (the usage text),
// and by scripts/gen-schema.ts (the man pages and the bash completion, see manual.ts), so the
// three cannot drift apart. Text fields use inline markdown only: `code`, **bold**, *italic*.

import type { ParseArgsConfig } from 'node:util';

type ParseArgsOptionConfig = NonNullable<ParseArgsConfig['options']>[string];

/** A parseArgs option plus what help and manual say about it. */
export interface HelpOption extends ParseArgsOptionConfig {
  /** The value's name in the synopsis (string options). */
  arg?: string;
  help: string;
}

export interface HelpCommand {
  name: string;
  /** Its operands, as written in the synopsis: `[reason]`. */
  args?: string;
  help: string;
}

export interface ManualSection {
  title: string;
  paragraphs: string[];
  /** Tagged paragraphs (term, text) after the paragraphs: exit statuses, files, signals. */
  items?: Array<[string, string]>;
}

export interface CommandLine {
  name: string;
  /** The manual section: 8 for the daemon and its control tool. */
  section: number;
  /** The NAME line of the man page. */
  summary: string;
  /** What follows the options in the synopsis: `<command> [reason]`. */
  operands?: string;
  options: Record<string, HelpOption>;
  commands?: HelpCommand[];
  /** Man page only: DESCRIPTION paragraphs, the sections after OPTIONS, and SEE ALSO. */
  manual: { description: string[]; sections: ManualSection[]; seeAlso: string[] };
}

function optionLabel(name: string, option: HelpOption, form: 'short' | 'both'): string {
  const flag = option.short !== undefined && form === 'short' ? `-${option.short}` : `--${name}`;
  const flags = form === 'both' && option.short !== undefined ? `-${option.short}, ${flag}` : flag;
  return option.type === 'string' ? `${flags} ${option.arg ?? 'VALUE'}` : flags;
}

/** `[-c FILE] [-p PLUGIN]... [--check]` and the operands. */
export function synopsis(line: CommandLine): string {
  const options = Object.entries(line.options).map(([name, option]) => `[${optionLabel(name, option, 'short')}]${option.multiple ? '...' : ''}`);
  return [line.name, ...options, ...(line.operands === undefined ? [] : [line.operands])].join(' ');
}

/** Plain text: inline markup dropped. */
export function plain(text: string): string {
  return text.replace(/`([^`]*)`/g, '$1').replace(/\*\*([^*]*)\*\*/g, '$1').replace(/\*([^*]*)\*/g, '$1');
}

const WIDTH = 79;

/** `label` in a column of `indent`, `text` beside it (or below a long label), wrapped. */
function twoColumns(label: string, text: string, indent: number): string {
  const words = plain(text).split(/\s+/).filter((word) => word !== '');
  const lines: string[] = [];
  let line = `  ${label}`;
  if (line.length >= indent - 1) {
    lines.push(line);
    line = '';
  }
  line = line.padEnd(indent);
  let empty = true;
  for (const word of words) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = ' '.repeat(indent);
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines.map((l) => l.trimEnd()).join('\n');
}

/** The text of `--help`. */
export function usageText(line: CommandLine): string {
  const labels = [...(line.commands ?? []).map((c) => [c.name, c.args].filter(Boolean).join(' ')),
    ...Object.entries(line.options).map(([name, option]) => optionLabel(name, option, 'both'))];
  const indent = Math.min(28, Math.max(...labels.map((label) => label.length)) + 5);
  const parts = [`usage: ${synopsis(line)}\n`];
  if (line.commands !== undefined) {
    parts.push('commands:');
    for (const command of line.commands) parts.push(twoColumns([command.name, command.args].filter(Boolean).join(' '), command.help, indent));
    parts.push('');
  }
  parts.push('options:');
  for (const [name, option] of Object.entries(line.options)) parts.push(twoColumns(optionLabel(name, option, 'both'), option.help, indent));
  return `${parts.join('\n')}\n`;
}
