import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { missingCapabilities, missingCapabilitiesMessage, secretFileWarning } from '../../src/agent/privileges.js';

/** /proc/self/status as the kernel writes it, with the given effective set. */
const procStatus = (capEff: string) => [
  'Name:\tnode',
  'Uid:\t65534\t65534\t65534\t65534',
  'CapInh:\t0000000000003000',
  'CapPrm:\t0000000000003000',
  `CapEff:\t${capEff}`,
  'CapBnd:\t000001ffffffffff',
  'CapAmb:\t0000000000003000',
  'NoNewPrivs:\t1',
].join('\n');

describe('missingCapabilities', () => {
  it.each([
    ['0000000000003000', []],
    ['000001ffffffffff', []],
    ['0000000000001000', ['CAP_NET_RAW']],
    ['0000000000002000', ['CAP_NET_ADMIN']],
    ['0000000000000000', ['CAP_NET_ADMIN', 'CAP_NET_RAW']],
    // CAP_NET_BIND_SERVICE (10) and CAP_NET_BROADCAST (11) are neighbours, not substitutes.
    ['0000000000000c00', ['CAP_NET_ADMIN', 'CAP_NET_RAW']],
  ])('CapEff %s lacks %j', (capEff, missing) => {
    expect(missingCapabilities(procStatus(capEff))).toEqual(missing);
  });

  it.runIf(process.getuid?.() === 0)('reads this process by default: root lacks nothing', () => {
    expect(missingCapabilities()).toEqual([]);
  });

  it('names the file when it has no CapEff line', () => {
    expect(() => missingCapabilities('Name:\tnode\nCapPrm:\t0\n')).toThrow('/proc/self/status: no CapEff line');
  });
});

describe('missingCapabilitiesMessage', () => {
  it('names each missing capability, why it is needed, and how to grant it', () => {
    const message = missingCapabilitiesMessage(['CAP_NET_RAW']);
    expect(message).toMatch(/^missing capability CAP_NET_RAW \(for sending gratuitous ARP/);
    expect(message).not.toContain('CAP_NET_ADMIN (');
    expect(message).toContain('AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW');
    expect(missingCapabilitiesMessage(['CAP_NET_ADMIN', 'CAP_NET_RAW'])).toMatch(
      /^missing capability CAP_NET_ADMIN \(for adding and removing the virtual addresses\) and CAP_NET_RAW \(/,
    );
  });
});

describe('secretFileWarning', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vippy-privileges-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const fileWithMode = (name: string, mode: number) => {
    const file = path.join(dir, name);
    writeFileSync(file, '{"secret": "s3cret-s3cret-s3cret"}');
    chmodSync(file, mode); // explicit: the umask would change writeFileSync's mode
    return file;
  };

  it.each([0o600, 0o400, 0o700])('is quiet for mode %o', (mode) => {
    expect(secretFileWarning(fileWithMode(`private-${mode.toString(8)}.conf`, mode))).toBeUndefined();
  });

  it.each([
    [0o644, '0644'],
    [0o640, '0640'],
    [0o604, '0604'],
    [0o620, '0620'],
    [0o666, '0666'],
  ])('warns for mode %o, naming the mode and the fix', (mode, octal) => {
    const file = fileWithMode(`open-${octal}.conf`, mode);
    expect(secretFileWarning(file)).toBe(
      `${file} holds the cluster secret but has mode ${octal} (group or others have access); fix: chmod 600 ${file}`,
    );
  });

  it('throws the fs error for a missing file', () => {
    expect(() => secretFileWarning(path.join(dir, 'absent.conf'))).toThrow(/ENOENT/);
  });
});
