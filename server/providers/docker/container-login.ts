import type Docker from 'dockerode';
import { AppError, validationFailed } from '../../platform/errors.ts';
import { execInContainer } from './container-exec.ts';
import { tarArchive } from './tar-archive.ts';

/**
 * Puts the console's public key into a container for the VM's login. Files go in with
 * `PUT /containers/{id}/archive` (a tar carrying owner and mode); commands run as argv arrays
 * through exec. The key never passes through a shell.
 */

/** The same rule as VM_SSH_USER in config: a plain Unix login name. */
export const LOGIN_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
/** One OpenSSH public key line; a newline would smuggle in a second, unchecked line. */
const PUBLIC_KEY_LINE = /^(?:ssh|ecdsa|sk)-[A-Za-z0-9@.-]+ [A-Za-z0-9+/]+={0,3}(?: [^\r\n]*)?$/;

export function assertLoginName(user: string): void {
  if (!LOGIN_NAME.test(user)) throw validationFailed(`"${user}" is not a valid login name (lowercase letters, digits, _ and -, at most 32, not starting with a digit or -)`);
}

export function assertPublicKeyLine(key: string): string {
  const line = key.trim();
  if (!PUBLIC_KEY_LINE.test(line)) throw validationFailed('The SSH public key must be one OpenSSH public key line (type, base64 key, optional comment)');
  return line;
}

/** Whether an authorized_keys line holds the key `type base64`, whatever its options and comment. */
function lineHoldsKey(authorizedLine: string, type: string, base64: string): boolean {
  const tokens = authorizedLine.trim().split(/\s+/);
  return tokens.some((t, i) => t === type && tokens[i + 1] === base64);
}

export interface Account {
  uid: number;
  gid: number;
  home: string;
}

/** The account's entry in /etc/passwd (parsed here: containers have no directory service). */
export function findAccount(passwd: string, user: string): Account | null {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 7) {
      const uid = Number(f[2]);
      const gid = Number(f[3]);
      if (Number.isInteger(uid) && Number.isInteger(gid) && f[5]?.startsWith('/')) return { uid, gid, home: f[5] };
    }
  }
  return null;
}

/**
 * `<home>/.ssh/` (0700) and `<home>/.ssh/authorized_keys` (0600), both owned by the account,
 * as a tar to extract at `/`. The engine applies owner and mode even when the directory exists.
 */
export function authorizedKeysArchive(account: Account, content: string): Buffer {
  const dir = `${account.home.replace(/^\/+|\/+$/g, '')}/.ssh`;
  const { uid, gid } = account;
  return tarArchive([
    { path: `${dir}/`, type: 'dir', mode: 0o700, uid, gid },
    { path: `${dir}/authorized_keys`, type: 'file', mode: 0o600, uid, gid, content: Buffer.from(content, 'utf8') },
  ]);
}

/** Before the first start (exec is not possible yet): root's home is /root in every image we make. */
export async function authorizeRootKeyBeforeStart(container: Docker.Container, publicKey: string): Promise<void> {
  const line = assertPublicKeyLine(publicKey);
  await container.putArchive(authorizedKeysArchive({ uid: 0, gid: 0, home: '/root' }, `${line}\n`), { path: '/' });
}

async function readPasswd(docker: Docker, container: Docker.Container): Promise<string> {
  const passwd = await execInContainer(docker, container, ['cat', '/etc/passwd']);
  if (passwd.exitCode !== 0) throw loginFailed(container, `cat /etc/passwd exited ${passwd.exitCode}: ${passwd.stderr.trim()}`);
  return passwd.stdout;
}

/**
 * On a running container: creates `user` when it does not exist, and makes sure `publicKey`
 * is in its authorized_keys. Idempotent: a redelivered create or a create that died half way
 * adds nothing twice, and keys someone added inside the VM are kept (the file is re-written
 * with its old lines plus ours).
 */
export async function ensureLogin(docker: Docker, container: Docker.Container, user: string, publicKey: string): Promise<{ created: boolean; keyAdded: boolean }> {
  assertLoginName(user);
  const line = assertPublicKeyLine(publicKey);
  let account = findAccount(await readPasswd(docker, container), user);
  let created = false;
  if (!account) {
    const add = await execInContainer(docker, container, ['useradd', '--create-home', '--shell', '/bin/bash', user]);
    // 9: the name is taken (a racing run created it a moment ago), which is what we wanted.
    if (add.exitCode !== 0 && add.exitCode !== 9) {
      const hint = add.exitCode === 126 || add.exitCode === 127 || /not found|no such file/i.test(add.stderr) ? ' (the image has no useradd: use an image with the passwd package, or log in as root)' : '';
      throw loginFailed(container, `useradd ${user} exited ${add.exitCode}: ${add.stderr.trim()}${hint}`);
    }
    created = add.exitCode === 0;
    account = findAccount(await readPasswd(docker, container), user);
    if (!account) throw loginFailed(container, `useradd ${user} succeeded but /etc/passwd has no entry for it`);
  }

  const keysPath = `${account.home.replace(/\/+$/, '')}/.ssh/authorized_keys`;
  const current = await execInContainer(docker, container, ['cat', keysPath]);
  // Exit 1 with "No such file": nothing authorized yet.
  const existing = current.exitCode === 0 ? current.stdout : '';
  const [type, base64] = line.split(' ') as [string, string];
  if (existing.split('\n').some((l) => lineHoldsKey(l, type, base64))) return { created, keyAdded: false };
  const content = `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${line}\n`;
  await container.putArchive(authorizedKeysArchive(account, content), { path: '/' });
  return { created, keyAdded: true };
}

function loginFailed(container: Docker.Container, why: string): AppError {
  return new AppError(502, 'vm_login_failed', `Could not set up the SSH login in container ${container.id.slice(0, 12)}: ${why}`);
}
