/**
 * The file on the server that holds the public host key of this type, so an administrator
 * can read the fingerprint on the host itself (`ssh-keygen -lf …`) before trusting it.
 */
export function hostKeyFile(type: string): string {
  if (type.includes('rsa')) return '/etc/ssh/ssh_host_rsa_key.pub';
  if (type.startsWith('ecdsa')) return '/etc/ssh/ssh_host_ecdsa_key.pub';
  return '/etc/ssh/ssh_host_ed25519_key.pub';
}
