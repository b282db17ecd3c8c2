/**
 * Raised where OpenSSH's client itself refuses the configuration (`ssh -G` exits 255):
 * syntax errors, unknown keywords, bad permissions on an included file, a failed
 * `Match exec`, an unknown %-token. The message names the file and line when there is one.
 */
export class SshConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshConfigError';
  }
}
