import { validationFailed } from '../../platform/errors.ts';

/** A login name cloud-init and `useradd` both accept; anything else could smuggle YAML. */
const LOGIN = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * First-boot configuration that creates the console's login (`spec.sshUser`) with the VM's key.
 * OVH images only set up their own default user (`debian`, `ubuntu` …) for the registered SSH
 * key; without this the console would log in as a user that does not exist. The document is
 * JSON after the `#cloud-config` line: JSON is YAML, so no value needs YAML escaping.
 */
export function loginUserData(sshUser: string, sshPublicKey: string): string {
  if (!LOGIN.test(sshUser)) throw validationFailed(`"${sshUser}" is not a valid login name for an OVH VM`);
  const key = sshPublicKey.trim();
  if (!key || /[\r\n]/.test(key)) throw validationFailed('the SSH public key must be one OpenSSH line');
  const config = {
    users: [
      'default',
      { name: sshUser, shell: '/bin/bash', sudo: 'ALL=(ALL) NOPASSWD:ALL', lock_passwd: true, ssh_authorized_keys: [key] },
    ],
  };
  return `#cloud-config\n${JSON.stringify(config)}\n`;
}
