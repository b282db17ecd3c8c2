import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Starts the real server (npm start's entry point) for browser tests: a fresh data
 * directory (so a fresh embedded Postgres), a known admin password, and a registry that
 * names the test fixture projects.
 */
const root = path.resolve(import.meta.dirname, '../..');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-e2e-'));
fs.chmodSync(dataDir, 0o755);
const registry = path.join(dataDir, 'registry');
fs.writeFileSync(registry, `fixture=${path.join(root, 'tests/fixtures/jobs')}\n`);

const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PORT: process.env.E2E_PORT ?? '3917',
    DATA_DIR: dataDir,
    ADMIN_PASSWORD: 'e2e-admin-password',
    MKCLI_REGISTRY: registry,
    LOG_LEVEL: 'warn',
    DATABASE_URL: '',
  },
});
const stop = () => child.kill('SIGTERM');
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
child.on('exit', (code) => {
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(code ?? 0);
});
