import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { REPLAY_WINDOW, ReplayGuard } from '../../src/wire/replay.js';

const T0 = 1_700_000_000_000;

describe('ReplayGuard', () => {
  it('accepts a sequence number exactly once, while it is within the window (model check)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 400 }), (seqs) => {
      const guard = new ReplayGuard({ skewMs: 30_000 });
      const seen = new Set<number>();
      let highest = -Infinity;
      for (const seq of seqs) {
        const expected = !seen.has(seq) && (seen.size === 0 || seq > highest || highest - seq < REPLAY_WINDOW);
        const verdict = guard.admit('peer', 'boot-a', seq, T0, T0);
        expect(verdict.ok, `seq ${seq} after highest ${highest}`).toBe(expected);
        if (!verdict.ok) expect(verdict.reason).toBe('replay');
        if (expected) {
          seen.add(seq);
          highest = Math.max(highest, seq);
        }
      }
    }), { numRuns: 300, seed: 3 });
  });

  it('keeps senders apart', () => {
    const guard = new ReplayGuard({ skewMs: 30_000 });
    expect(guard.admit('a', 'boot', 5, T0, T0).ok).toBe(true);
    expect(guard.admit('b', 'boot', 5, T0, T0).ok).toBe(true);
    expect(guard.admit('a', 'boot', 5, T0, T0).ok).toBe(false);
  });

  it('rejects a NaN sent_at as clock skew, and records nothing for it', () => {
    const guard = new ReplayGuard({ skewMs: 30_000 });
    expect(guard.admit('a', 'boot', 1, NaN, T0)).toMatchObject({ ok: false, reason: 'clock-skew' });
    expect(guard.admit('a', 'boot', 1, T0, T0).ok).toBe(true);
  });

  it('remembers every superseded boot, not only the last', () => {
    const guard = new ReplayGuard({ skewMs: 30_000 });
    for (let boot = 0; boot < 5; boot++) expect(guard.admit('a', `boot-${boot}`, 0, T0 + boot * 10, T0).ok).toBe(true);
    for (let boot = 0; boot < 4; boot++) {
      // Even sent "now", a superseded boot is refused.
      expect(guard.admit('a', `boot-${boot}`, 99, T0 + 1_000, T0)).toMatchObject({ ok: false, reason: 'stale-boot' });
    }
  });

  it('refuses a non-positive skew', () => {
    expect(() => new ReplayGuard({ skewMs: 0 })).toThrow(/skewMs must be positive/);
  });
});
