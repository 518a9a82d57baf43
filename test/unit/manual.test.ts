// The man pages and vippyctl's bash completion: committed copies current, pages that groff
// renders without a warning, installed by the package, and a completion that bash runs.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { synopsis } from '../../src/cli/help.js';
import { manPages, roffInline, vippyctlBashCompletion } from '../../src/cli/manual.js';
import { vippyctlCommandLine } from '../../src/cli/vippyctl.js';
import { vippydCommandLine } from '../../src/cli/vippyd.js';
import { configKeyRows } from '../../src/config/reference.js';

const runFile = promisify(execFile);
const root = new URL('../../', import.meta.url);
const committed = (path: string) => readFileSync(new URL(path, root), 'utf8');
const regenerate = 'out of date: run `npx tsx scripts/gen-schema.ts`';
const COMPLETION = 'packaging/vippyctl.bash-completion';

/** The page as man shows it, as plain text on long lines. */
function render(page: string): string {
  return execFileSync('groff', ['-man', '-Tutf8', '-P-cbou', '-rLL=200n'], { input: page, encoding: 'utf8' });
}

describe('man pages', () => {
  it.each(Object.keys(manPages()))('%s is up to date', (path) => {
    expect(committed(path), regenerate).toBe(manPages()[path]);
  });

  it('package.json installs every page (man field) and ships them (files)', () => {
    const pkg = JSON.parse(committed('package.json')) as { man: string[]; files: string[] };
    expect(pkg.man.map((path) => path.replace(/^\.\//, ''))).toEqual(Object.keys(manPages()));
    expect(pkg.files).toContain('man/');
  });

  it.each(Object.keys(manPages()))('groff renders %s without a warning, in ASCII', async (path) => {
    const page = manPages()[path]!;
    expect(page).toMatch(/^[\x20-\x7e\n]*$/);
    const child = runFile('groff', ['-man', '-ww', '-z'], {});
    child.child.stdin!.end(page);
    const { stderr } = await child;
    expect(stderr).toBe('');
  });

  it('the command pages carry every option and command of the help', () => {
    const vippyd = render(manPages()['man/vippyd.8']!);
    for (const name of Object.keys(vippydCommandLine.options)) expect(vippyd).toContain(`--${name}`);
    expect(vippyd).toContain(synopsis(vippydCommandLine));
    const vippyctl = render(manPages()['man/vippyctl.8']!);
    for (const name of Object.keys(vippyctlCommandLine.options)) expect(vippyctl).toContain(`--${name}`);
    expect(vippyctl).toContain(synopsis(vippyctlCommandLine));
    for (const command of vippyctlCommandLine.commands) expect(vippyctl).toMatch(new RegExp(`^ {7}${command.name}\\b`, 'm'));
  });

  it('vippy.conf(5) lists every documented key with its default', () => {
    const text = render(manPages()['man/vippy.conf.5']!);
    for (const row of [...configKeyRows('vippy'), ...configKeyRows('flip')]) expect(text).toMatch(new RegExp(`^ {7}${row.key.replace(/[[\].<>]/g, '\\$&')}\\b`, 'm'));
    expect(text).toContain('stale');
    expect(text).toMatch(/seconds \(> 0\); default 3; since vippy\./);
  });

  it('inline markup: code is bold with minus signs, prose keeps hyphens, control characters are defused', () => {
    expect(roffInline('run `vippyd --check` on a make-before-break host')).toBe('run \\fBvippyd \\-\\-check\\fR on a make-before-break host');
    expect(roffInline('a\n.b\n\'c \\ d ≥ 1')).toBe('a\n\\&.b\n\\&\'c \\e d \\(>= 1');
    expect(() => roffInline('☃')).toThrow(/no groff glyph/);
  });
});

describe('bash completion for vippyctl', () => {
  it(`${COMPLETION} is up to date`, () => {
    expect(committed(COMPLETION), regenerate).toBe(vippyctlBashCompletion());
  });

  /** What bash completes for the words typed so far (the last one is being typed). */
  async function complete(...words: string[]): Promise<string[]> {
    const script = `source ${JSON.stringify(fileURLToPath(new URL(COMPLETION, root)))}
COMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_vippyctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const { stdout } = await runFile('bash', ['--norc', '--noprofile', '-c', script], { cwd: fileURLToPath(new URL('test/unit/', root)) });
    return stdout.split('\n').filter((line) => line !== '');
  }

  it('completes commands, options and the socket path; nothing after the command', async () => {
    expect(await complete('vippyctl', '')).toEqual(vippyctlCommandLine.commands.map((command) => command.name));
    expect(await complete('vippyctl', 'de')).toEqual(['deactivate']);
    expect(await complete('vippyctl', '--j')).toEqual(['--json']);
    expect(await complete('vippyctl', '-s', '/tmp/x', '--json', 'st')).toEqual(['status']);
    expect(await complete('vippyctl', '-s', 'manual.te')).toEqual(['manual.test.ts']);
    expect(await complete('vippyctl', 'deactivate', '')).toEqual([]);
  });
});
