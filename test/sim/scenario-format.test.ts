// The scenario file format itself: comments anywhere survive a rewrite, errors name the line
// they are about, and a scenario's network delay is fixed and written in the file.
import { describe, expect, it } from 'vitest';
import { formatScript, parseScript, runScript } from './scenario.js';

const script = (...lines: string[]) => `${lines.join('\n')}\n`;

describe('scenario files', () => {
  it('keep comment lines wherever they stand when rewritten', () => {
    const text = script(
      '# What this shows.', '', 'cluster nodes=a groups=1 delay=2ms', '----', 'old', '',
      '# Why the next step:', '# two lines of it.', '', 'start', '----', 'old', '', '# A closing note.',
    );
    const rewritten = runScript(text, 't.txt');
    expect(rewritten.split('\n').filter((line) => line.startsWith('#'))).toEqual(['# What this shows.', '# Why the next step:', '# two lines of it.', '# A closing note.']);
    expect(formatScript(parseScript(rewritten, 't.txt'))).toBe(rewritten);
    expect(runScript(rewritten, 't.txt')).toBe(rewritten);
  });

  it('name the line of the command that failed, also when the same command came before', () => {
    const text = script('cluster nodes=a groups=1 delay=2ms', '----', '', '', 'crash a', '----', '', '', 'crash b', '----', '');
    expect(() => runScript(text, 't.txt')).toThrow(/^t\.txt:9: .*no node named "b"/);
    const twice = script('cluster nodes=a groups=1 delay=2ms', '----', '', '', 'run 1s', '----', '', '', 'run 1s', '----', '', '', 'run soon', '----', '');
    expect(() => runScript(twice, 't.txt')).toThrow('t.txt:13: "soon" is not a duration');
  });

  it('need the fixed network delay on the cluster line', () => {
    expect(() => runScript(script('# no delay', '', 'cluster nodes=a groups=1', '----', ''), 't.txt')).toThrow('t.txt:3: cluster needs delay=D');
  });
});
