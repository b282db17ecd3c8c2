import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkNamespacesAvailable, sshdAvailable, startSshd, type TestSshd } from '../helpers/sshd.ts';

/**
 * The sshd harness, proven with OpenSSH's own client. Every ssh runs asynchronously: a
 * jump host is served by this process's event loop, which a synchronous spawn would block.
 */

interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runTool(cmd: string, args: string[], timeoutMs = 20_000): { done: Promise<SshResult>; kill: () => void } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<SshResult>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { done, kill: () => child.kill('SIGKILL') };
}

function runSsh(args: string[]) {
  return runTool('ssh', args);
}

let tmp: string;

/** Whether a process exists and is not a zombie waiting for its new parent to reap it. */
function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** ssh options that trust exactly `knownHosts` and log in with the server's client key. */
function sshTo(server: TestSshd, knownHosts: string, extra: string[] = []): string[] {
  const file = path.join(tmp, `known_hosts_${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(file, knownHosts);
  return [
    '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${file}`,
    '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=10', '-i', server.clientKey.privateKeyPath,
    '-p', String(server.port), ...extra, `${server.user}@${server.host}`,
  ];
}

async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-sshd-harness-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.runIf(sshdAvailable())('test sshd', () => {
  let server: TestSshd;
  beforeAll(async () => {
    server = await startSshd({ encryptedClientKeyPassphrase: 'correct horse' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs a command and returns its output', async () => {
    const r = await runSsh([...sshTo(server, server.knownHostsLine()), 'echo hello from $(whoami) in $HOME']).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`hello from ${server.user} in ${server.home}\n`);
    expect(server.log()).toMatch(/Accepted publickey for/);
  });

  it('is trusted through knownHostsLine with StrictHostKeyChecking=yes, and refused without it', async () => {
    expect(server.knownHostsLine()).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${server.port} ssh-ed25519 \\S+\\n.* ssh-rsa \\S+\\n$`));
    const rsaOnly = await runSsh([...sshTo(server, server.knownHostsLine(['ssh-rsa'])), 'true']).done;
    expect(rsaOnly.code, rsaOnly.stderr).toBe(0);
    const unknown = await runSsh([...sshTo(server, ''), 'true']).done;
    expect(unknown.code).toBe(255);
    expect(unknown.stderr).toMatch(/No \S+ host key is known for \[127\.0\.0\.1\]:\d+ and you have requested strict checking/);
  });

  it('reports host keys with the fingerprints ssh-keyscan sees', async () => {
    const { stdout: keyscan } = await runTool('ssh-keyscan', ['-p', String(server.port), '-T', '5', server.host]).done;
    for (const key of server.hostKeys) {
      expect(keyscan).toContain(key.publicKey);
      expect(key.blob.toString('base64')).toBe(key.publicKey.split(' ')[1]);
      expect(key.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    }
  });

  it('authorizes an encrypted client key that opens with its passphrase', async () => {
    const enc = server.encryptedClientKey!;
    expect(fs.readFileSync(enc.privateKeyPath, 'utf8')).toContain('BEGIN OPENSSH PRIVATE KEY');
    const { stdout: pub } = await runTool('ssh-keygen', ['-y', '-P', enc.passphrase, '-f', enc.privateKeyPath]).done;
    expect(pub.trim().split(' ').slice(0, 2)).toEqual(enc.publicKey.split(' ').slice(0, 2));
    expect(fs.readFileSync(path.join(server.dir, 'authorized_keys'), 'utf8')).toContain(enc.publicKey);
  });

  it('sees a remote command while it runs, and not after', async () => {
    const session = runSsh([...sshTo(server, server.knownHostsLine()), 'sleep 4242']);
    // Until bash execs it, the command shows as `bash -c sleep 4242`.
    const seen = await waitFor('the remote sleep', () => {
      const found = server.remoteProcesses(/sleep 4242/);
      return found.some((p) => p.args === 'sleep 4242') && found;
    });
    expect(seen).toEqual([{ pid: expect.any(Number), args: 'sleep 4242' }]);
    expect(server.remoteProcesses(/^sshd/)).toEqual([]);
    process.kill(seen[0].pid, 'SIGTERM');
    await session.done;
    await waitFor('the remote sleep to end', () => server.remoteProcesses(/sleep 4242/).length === 0);
  });

  it('dropConnections breaks an open session, keeps listening, and leaves the orphaned command visible', async () => {
    const session = runSsh([...sshTo(server, server.knownHostsLine()), 'sleep 30']);
    await waitFor('the remote sleep', () => server.remoteProcesses(/^sleep 30$/).length > 0);
    const started = Date.now();
    await server.dropConnections();
    const r = await session.done;
    expect(r.code).toBe(255);
    expect(Date.now() - started).toBeLessThan(5000);
    // Its sshd is gone, the command it started is not: as after a real network drop.
    expect(server.remoteProcesses(/^sleep 30$/)).toHaveLength(1);
    const again = await runSsh([...sshTo(server, server.knownHostsLine()), 'echo still here']).done;
    expect(again.stdout).toBe('still here\n');
    for (const p of server.remoteProcesses(/^sleep 30$/)) process.kill(p.pid, 'SIGKILL');
  });

  it('puts extraConfig before its own settings so it can override them', async () => {
    const strict = await startSshd({ clientKey: server.clientKey, hostKeyTypes: ['ed25519'], extraConfig: 'PermitRootLogin no\nMatch User nobody\n  X11Forwarding no\n' });
    try {
      const r = await runSsh([...sshTo(strict, strict.knownHostsLine()), 'true']).done;
      expect(r.code).toBe(strict.user === 'root' ? 255 : 0);
      expect(fs.readFileSync(path.join(strict.dir, 'sshd_config'), 'utf8')).toMatch(/^PermitRootLogin no\n[\s\S]*PermitRootLogin prohibit-password[\s\S]*\nMatch User nobody\n/);
    } finally {
      await strict.stop();
    }
  });

  it('stop() kills everything started through it and removes its directory', async () => {
    const other = await startSshd({ clientKey: server.clientKey, hostKeyTypes: ['ecdsa'] });
    expect(other.hostKeys.map((k) => k.type)).toEqual(['ecdsa-sha2-nistp256']);
    const session = runSsh([...sshTo(other, other.knownHostsLine()), 'sleep 4343']);
    const [remote] = await waitFor('the remote sleep', () => {
      const found = other.remoteProcesses(/sleep 4343/);
      return found.length > 0 && found;
    });
    await other.stop();
    expect((await session.done).code).toBe(255);
    await waitFor('the remote sleep to be killed', () => !isRunning(remote.pid));
    expect(fs.existsSync(other.dir)).toBe(false);
    // The shared client key belongs to no single server.
    expect(fs.existsSync(server.clientKey.privateKeyPath)).toBe(true);
  });
});

describe.runIf(sshdAvailable() && networkNamespacesAvailable())('test sshd behind a jump host', () => {
  let jump: TestSshd;
  let target: TestSshd;
  beforeAll(async () => {
    jump = await startSshd({ jumpHost: true, hostKeyTypes: ['ed25519'] });
    target = await startSshd({ behind: jump, clientKey: jump.clientKey });
  });
  afterAll(async () => {
    await target?.stop();
    await jump?.stop();
  });

  function configFor(knownHosts: string): string {
    const kh = path.join(tmp, 'jump_known_hosts');
    fs.writeFileSync(kh, knownHosts);
    const config = path.join(tmp, 'jump_ssh_config');
    // ProxyJump's inner ssh gets -F but not -i or -o: everything it needs is in the file.
    fs.writeFileSync(config, [
      `Host jump`, `  HostName ${jump.host}`, `  Port ${jump.port}`, `  User ${jump.user}`,
      `Host target`, `  HostName ${target.host}`, `  Port ${target.port}`, `  User ${target.user}`,
      `Host *`, `  BatchMode yes`, `  StrictHostKeyChecking yes`, `  UserKnownHostsFile ${kh}`,
      `  IdentityFile ${jump.clientKey.privateKeyPath}`, `  IdentitiesOnly yes`, `  ConnectTimeout 10`, ``,
    ].join('\n'));
    return config;
  }

  it('ssh -J jump target reaches the target', async () => {
    const config = configFor(jump.knownHostsLine() + target.knownHostsLine());
    const r = await runSsh(['-F', config, '-J', 'jump', 'target', 'echo inside; cat /proc/net/dev | grep -c :']).done;
    expect(r.code, `${r.stderr}\n--- jump:\n${jump.log()}\n--- target:\n${target.log()}`).toBe(0);
    // The target's network has nothing but loopback.
    expect(r.stdout).toBe('inside\n1\n');
    expect(target.via).toBe(jump);
    expect(target.log()).toMatch(/Accepted publickey/);
    expect(jump.log()).toMatch(/Accepted publickey/);
  });

  it('the target cannot be reached directly from the test network', async () => {
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(target.port, target.host);
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(refused).toBe('ECONNREFUSED');
    const r = await runSsh([...sshTo(target, target.knownHostsLine()), 'true']).done;
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Connection refused/);
  });

  it('sees and drops sessions on both hops', async () => {
    const config = configFor(jump.knownHostsLine() + target.knownHostsLine());
    const session = runSsh(['-F', config, '-J', 'jump', 'target', 'sleep 4444']);
    await waitFor('the remote sleep', () => target.remoteProcesses(/^sleep 4444$/).length > 0);
    expect(jump.remoteProcesses(/sleep 4444/)).toEqual([]);
    await jump.dropConnections();
    expect((await session.done).code).toBe(255);
    await target.dropConnections();
    for (const p of target.remoteProcesses(/^sleep 4444$/)) process.kill(p.pid, 'SIGKILL');
    const again = await runSsh(['-F', config, '-J', 'jump', 'target', 'echo again']).done;
    expect(again.stdout).toBe('again\n');
  });
});
