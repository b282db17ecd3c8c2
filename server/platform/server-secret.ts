import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The secret that encrypts what the console keeps for users (VM private keys). It comes from
 * SERVER_SECRET when set — every server on one database must share it — or from a file in
 * the data directory created on first start (mode 0600). It is never stored in Postgres:
 * a database dump alone must not be enough to log in to anyone's VM.
 */
export function loadServerSecret(fromEnv: string | undefined, dataDir: string): Buffer {
  if (fromEnv) return crypto.createHash('sha256').update(fromEnv, 'utf8').digest();
  const file = path.join(dataDir, 'server-secret');
  try {
    const hex = fs.readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
    throw new Error(`${file} does not hold a 64-hex-digit secret; restore it from a backup or set SERVER_SECRET`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const secret = crypto.randomBytes(32);
  // wx: two servers starting at once on one data dir must not each write their own.
  try {
    fs.writeFileSync(file, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadServerSecret(undefined, dataDir);
    throw err;
  }
  return secret;
}
