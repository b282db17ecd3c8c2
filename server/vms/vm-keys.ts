import crypto from 'node:crypto';
import ssh2 from 'ssh2';

/** A VM's own login key: the public line goes into the VM, the private key to the console and its owner. */
export interface VmKeyPair {
  publicKey: string;
  privateKey: string;
}

/** A fresh ed25519 pair per VM, in OpenSSH format (what `ssh -i` reads). */
export function generateVmKeyPair(vmName: string): VmKeyPair {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: `vm-orchestrator:${vmName}` });
  return { publicKey: pair.public.trim(), privateKey: pair.private };
}

const FORMAT_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts private keys at rest with AES-256-GCM under the server secret. Stored as
 * version (1 byte) | iv (12) | tag (16) | ciphertext; the VM id is bound in as associated
 * data, so a key copied onto another VM's row does not decrypt.
 */
export class VmKeyVault {
  constructor(private readonly secret: Buffer) {
    if (secret.length !== 32) throw new Error('the server secret must be 32 bytes');
  }

  seal(vmId: string, privateKey: string): Buffer {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.secret, iv);
    cipher.setAAD(Buffer.from(vmId));
    const body = Buffer.concat([cipher.update(privateKey, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT_V1]), iv, cipher.getAuthTag(), body]);
  }

  open(vmId: string, sealed: Buffer): string {
    if (sealed[0] !== FORMAT_V1) throw new Error('unknown key format');
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.secret, iv);
    decipher.setAAD(Buffer.from(vmId));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('the VM key does not decrypt with this server secret (was SERVER_SECRET or data/server-secret changed?)');
    }
  }
}
