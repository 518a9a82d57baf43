// A vitest reporter (vitest.config.ts): when the namespace tier was selected but could not run
// here (not root, no ip or nft), say so at the very end of the run, with the reason, so a green
// `npm test` outside CI is not mistaken for a run of the real-kernel tests. In CI the harness
// throws instead (and .ci/run fails the run), so there is nothing to add.
import type { Reporter, TestModule } from 'vitest/node';
import { netnsProblems } from './netns/lib/requirements.js';

export default class NetnsSkipReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    if (process.env.CI) return;
    const modules = testModules.filter((module) => module.project.name === 'netns');
    if (modules.length === 0) return;
    const problems = netnsProblems();
    if (problems.length === 0) return;
    const skipped = modules.flatMap((module) => [...module.children.allTests()]).filter((test) => test.result().state === 'skipped').length;
    const rule = '='.repeat(78);
    process.stdout.write(`\n${rule}\n` +
      `NAMESPACE TESTS SKIPPED: ${skipped} real-kernel tests in ${modules.length} file${modules.length === 1 ? '' : 's'} did not run, because\n` +
      problems.map((problem) => `  - ${problem}\n`).join('') +
      `This run says nothing about the kernel-facing code. Run as root with iproute2 and nftables\n` +
      `installed (see README); with CI=1 a skipped namespace tier fails the run.\n${rule}\n`);
  }
}
