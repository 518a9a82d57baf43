import { defineConfig } from 'vitest/config';

// Tiers (see DESIGN.md "Testing"): pure unit tests and the simulated cluster run first, in
// parallel; then the real kernel in network namespaces, one file at a time (its tests measure
// timings that parallel work would disturb); then the packaging test, which packs and installs.
// groupOrder makes the groups run one after another.
export default defineConfig({
  test: {
    // The second reporter ends a run that skipped the namespace tier with a banner saying why.
    reporters: ['default', './test/netns-skip-reporter.ts'],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      { test: { name: 'sim', include: ['test/sim/**/*.test.ts'], testTimeout: 120_000, sequence: { groupOrder: 0 } } },
      {
        test: {
          name: 'netns',
          include: ['test/netns/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
