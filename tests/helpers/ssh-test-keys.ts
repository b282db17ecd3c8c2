/** Throwaway SSH host and client keys for test servers, made with ssh-keygen. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ClientKey, HostKey } from './sshd.ts';

const run = promisify(execFile);


async function sshKeygen(args: string[]) {
  await run('ssh-keygen', ['-q', ...args]);
}

async function fingerprintOf(pubPath: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubPath]);
  return stdout.split(' ')[1];
}

export async function makeHostKey(dir: string, kind: 'ed25519' | 'rsa' | 'ecdsa'): Promise<{ path: string; key: HostKey }> {
  const keyPath = path.join(dir, `ssh_host_${kind}_key`);
  await sshKeygen(['-t', kind, ...(kind === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', '', '-f', keyPath]);
  const [type, base64] = fs.readFileSync(`${keyPath}.pub`, 'utf8').trim().split(/\s+/);
  const key = { type, publicKey: `${type} ${base64}`, blob: Buffer.from(base64, 'base64'), fingerprint: await fingerprintOf(`${keyPath}.pub`) };
  return { path: keyPath, key };
}

/** Client keys outlive the server that made them (another server may reuse them); removed by removeClientKeys at exit. */
let clientKeysDir: string | undefined;

export function removeClientKeys() {
  if (clientKeysDir) fs.rmSync(clientKeysDir, { recursive: true, force: true });
  clientKeysDir = undefined;
}

export async function makeClientKey(passphrase = ''): Promise<ClientKey> {
  clientKeysDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-sshd-client-keys-'));
  const keyPath = path.join(clientKeysDir, `id_ed25519_${randomBytes(4).toString('hex')}`);
  await sshKeygen(['-t', 'ed25519', '-N', passphrase, '-C', 'vmo-test-client', '-f', keyPath]);
  return { privateKeyPath: keyPath, publicKey: fs.readFileSync(`${keyPath}.pub`, 'utf8').trim() };
}
