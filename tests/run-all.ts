import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM_PATH } from './e2e/chromium.ts';

/**
 * `npm test`: unit + integration (vitest), then browser tests (Playwright), then one
 * closing line with the totals. A suite whose system dependency is missing fails under
 * CI=true and is skipped with a message naming the package on a developer machine.
 */
const ci = process.env.CI === 'true' || process.env.CI === '1';
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-test-report-'));
const totals = { passed: 0, failed: 0, skipped: 0 };
let exitCode = 0;

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function missing(what: string, install: string): boolean {
  console.error(`\n${ci ? 'FAIL' : 'SKIP'}: ${what} is not installed (${install}).`);
  if (ci) exitCode = 1;
  return false;
}

// 1. Unit and integration tests.
const vitestJson = path.join(out, 'vitest.json');
const vitestArgs = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`, ...process.argv.slice(2)];
if (run('npx', vitestArgs) !== 0) exitCode = 1;
if (fs.existsSync(vitestJson)) {
  const r = JSON.parse(fs.readFileSync(vitestJson, 'utf8'));
  totals.passed += r.numPassedTests;
  totals.failed += r.numFailedTests;
  totals.skipped += r.numPendingTests + (r.numTodoTests ?? 0);
} else {
  totals.failed += 1;
}

// 2. Browser tests, with Debian's Chromium.
if (!process.argv.includes('--no-e2e') && (fs.existsSync(CHROMIUM_PATH) || missing('Chromium', 'apt-get install chromium'))) {
  if (run('npx', ['vite', 'build', '--logLevel', 'warn']) !== 0) {
    exitCode = 1;
    totals.failed += 1;
  } else {
    const pwJson = path.join(out, 'playwright.json');
    const code = run('npx', ['playwright', 'test', '--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_NAME: pwJson });
    if (code !== 0) exitCode = 1;
    if (fs.existsSync(pwJson)) {
      const s = JSON.parse(fs.readFileSync(pwJson, 'utf8')).stats;
      totals.passed += s.expected + (s.flaky ?? 0);
      totals.failed += s.unexpected;
      totals.skipped += s.skipped;
    } else {
      totals.failed += 1;
    }
  }
}

fs.rmSync(out, { recursive: true, force: true });
console.log(`\ntotal: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(exitCode || (totals.failed ? 1 : 0));
