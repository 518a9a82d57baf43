import { defineConfig } from 'vitest/config';

// Three tiers (see DESIGN.md "Testing"): pure unit tests, the simulated cluster, and the real
// kernel in network namespaces. The namespace tier runs one file at a time: its tests create
// namespaces and daemons and measure timings that parallel files would disturb.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { test: { name: 'sim', include: ['test/sim/**/*.test.ts'], testTimeout: 120_000 } },
      {
        test: {
          name: 'netns',
          include: ['test/netns/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
