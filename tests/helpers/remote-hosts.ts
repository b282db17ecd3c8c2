/** Environments folder, ssh config and known_hosts in a temporary directory, for servers under test. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestSshd } from './sshd.ts';

export interface RemoteFixture {
  dir: string;
  envDir: string;
  sshConfig: string;
  knownHosts: string;
  /** Server environment: point the console at this fixture. */
  env: Record<string, string>;
  writeEnvironment(name: string, yaml: string): void;
  writeSshConfig(text: string): void;
  /** Appends known_hosts lines (plain text). */
  trust(lines: string): void;
  cleanup(): void;
}

export function remoteFixture(): RemoteFixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-remote-'));
  const envDir = path.join(dir, 'environments');
  const sshConfig = path.join(dir, 'ssh_config');
  const knownHosts = path.join(dir, 'known_hosts');
  fs.mkdirSync(envDir);
  fs.writeFileSync(sshConfig, '');
  fs.writeFileSync(knownHosts, '');
  return {
    dir,
    envDir,
    sshConfig,
    knownHosts,
    env: { ENVIRONMENTS_DIR: envDir, SSH_CONFIG: sshConfig, SSH_RECONNECT_DELAY_MS: '100', SSH_CONNECT_TIMEOUT_SECONDS: '5' },
    writeEnvironment(name, yaml) {
      fs.mkdirSync(path.join(envDir, name), { recursive: true });
      fs.writeFileSync(path.join(envDir, name, 'config.yml'), yaml);
    },
    writeSshConfig(text) {
      fs.writeFileSync(sshConfig, text);
    },
    trust(lines) {
      fs.appendFileSync(knownHosts, lines.endsWith('\n') ? lines : `${lines}\n`);
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A `Host` block reaching `sshd` as its user with its client key; known hosts from the fixture unless `knownHosts` names another file. */
export function hostBlock(alias: string, sshd: TestSshd, fx: RemoteFixture, extra: string[] = [], knownHosts = fx.knownHosts): string {
  return [
    `Host ${alias}`,
    `  HostName ${sshd.host}`,
    `  Port ${sshd.port}`,
    `  User ${sshd.user}`,
    `  IdentityFile ${sshd.clientKey.privateKeyPath}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${knownHosts}`,
    ...extra.map((l) => `  ${l}`),
    '',
  ].join('\n');
}
