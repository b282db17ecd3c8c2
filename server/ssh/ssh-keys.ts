import fs from 'node:fs/promises';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { AppError, validationFailed } from '../platform/errors.ts';

export type LoadedIdentity =
  | { status: 'ready'; path: string; key: ParsedKey }
  | { status: 'locked'; path: string }
  | { status: 'missing'; path: string }
  | { status: 'invalid'; path: string; reason: string };

const ENCRYPTED = /Encrypted (private )?(OpenSSH )?key detected|no passphrase given|passphrase/i;

/**
 * Private keys named by IdentityFile, parsed once and kept in memory. An encrypted key
 * stays locked until someone gives its passphrase (`unlock`); the passphrase is used once
 * and dropped — only the decrypted key object is kept, in this process only, never
 * written anywhere or logged. Decrypting costs ~0.4 s of CPU (bcrypt KDF), so it happens
 * once per key at unlock time, never per connection.
 */
export class KeyStore {
  private readonly cache = new Map<string, { stamp: string; identity: LoadedIdentity }>();
  private readonly unlocked = new Map<string, { stamp: string; key: ParsedKey }>();

  /** The identity at `path` as it is on disk now (re-read only when the file changed). */
  async load(path: string): Promise<LoadedIdentity> {
    const st = await fs.stat(path).catch(() => null);
    if (!st?.isFile()) return { status: 'missing', path };
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    const unlocked = this.unlocked.get(path);
    if (unlocked?.stamp === stamp) return { status: 'ready', path, key: unlocked.key };
    const cached = this.cache.get(path);
    if (cached?.stamp === stamp) return cached.identity;
    let identity: LoadedIdentity;
    try {
      identity = this.parse(path, await fs.readFile(path));
    } catch (err) {
      identity = { status: 'invalid', path, reason: (err as Error).message };
    }
    this.cache.set(path, { stamp, identity });
    return identity;
  }

  /**
   * Decrypts an encrypted key with `passphrase` and keeps the result for later connections.
   * Only a key that a connection found locked (an IdentityFile of some host) can be
   * unlocked, so this is no way to probe which files exist or to read other files.
   */
  async unlock(path: string, passphrase: string): Promise<void> {
    if (this.cache.get(path)?.identity.status !== 'locked') {
      throw validationFailed(`${path} is not an encrypted key a connection has needed; check the host first`);
    }
    const st = await fs.stat(path).catch(() => null);
    if (!st?.isFile()) throw validationFailed(`${path} is not an encrypted key a connection has needed; check the host first`);
    const data = await fs.readFile(path);
    const parsed = ssh2.utils.parseKey(data, passphrase);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key instanceof Error || !key) throw new AppError(400, 'wrong_passphrase', `Wrong passphrase for ${path}`);
    if (!key.isPrivateKey()) throw validationFailed(`${path} is not a private key`);
    this.unlocked.set(path, { stamp: `${st.ino}:${st.size}:${st.mtimeMs}`, key });
  }

  isUnlocked(path: string): boolean {
    return this.unlocked.has(path);
  }

  private parse(path: string, data: Buffer): LoadedIdentity {
    const parsed = ssh2.utils.parseKey(data);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key instanceof Error) {
      return ENCRYPTED.test(key.message) ? { status: 'locked', path } : { status: 'invalid', path, reason: key.message };
    }
    if (!key?.isPrivateKey()) return { status: 'invalid', path, reason: 'not a private key' };
    return { status: 'ready', path, key };
  }
}
