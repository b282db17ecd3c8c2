import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostBlock, remoteFixture } from '../helpers/remote-hosts.ts';
import { sshdAvailable, startSshd, type TestSshd } from '../helpers/sshd.ts';
import { remoteSetupPath, type RemoteSetup } from './remote.ts';

/**
 * Starts the real server (npm start's entry point) for browser tests: a fresh data
 * directory (so a fresh embedded Postgres), a known admin password, a registry that
 * names the test fixture projects, and one real sshd reachable as the inventory host
 * `e2e/box` (ssh alias `e2e-box`, host keys already trusted) for the remote-host specs.
 */
const root = path.resolve(import.meta.dirname, '../..');
const port = process.env.E2E_PORT ?? '3917';
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-e2e-'));
// Open to the postgres user (as root): the database stays in dataDir instead of /var/lib/vm-orchestrator.
fs.chmodSync(dataDir, 0o755);
const registry = path.join(dataDir, 'registry');
fs.writeFileSync(registry, `fixture=${path.join(root, 'tests/fixtures/jobs')}\n`);

// Under CI a missing sshd throws here and the whole run fails; elsewhere the remote specs skip.
const fx = remoteFixture();
const setupFile = remoteSetupPath(port);
const logLines = ['remote log line 1', 'remote log line 2', 'remote log line 3'];
const setup: RemoteSetup = {
  available: false,
  environment: 'e2e',
  host: 'box',
  alias: 'e2e-box',
  logFile: path.join(fx.dir, 'app.log'),
  logLines,
};
let sshd: TestSshd | undefined;
if (sshdAvailable()) {
  sshd = await startSshd();
  fx.writeSshConfig(hostBlock(setup.alias, sshd, fx));
  fx.trust(sshd.knownHostsLine());
  fx.writeEnvironment(setup.environment, `vms: { ${setup.host}: { host: ${setup.alias} } }\n`);
  fs.writeFileSync(setup.logFile, logLines.map((l) => `${l}\n`).join(''));
  setup.available = true;
}
fs.writeFileSync(setupFile, JSON.stringify(setup));

const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    ...fx.env,
    PORT: port,
    DATA_DIR: dataDir,
    ADMIN_PASSWORD: 'e2e-admin-password',
    MKCLI_REGISTRY: registry,
    // bash without the machine's login scripts (see the script).
    TERMINAL_SHELL: path.join(root, 'tests/fixtures/profile-free-shell/bash'),
    LOG_LEVEL: 'warn',
    DATABASE_URL: '',
  },
});
const stop = () => child.kill('SIGTERM');
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
child.on('exit', (code) => {
  void (async () => {
    await sshd?.stop().catch(() => {});
    fx.cleanup();
    fs.rmSync(setupFile, { force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(code ?? 0);
  })();
});
