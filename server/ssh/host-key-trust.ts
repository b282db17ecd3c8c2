import fs from 'node:fs/promises';
import type { HostRepository, KnownKeyRow } from '../inventory/host.repository.ts';
import {
  checkHostKeyAt, entryMatches, hostKeyAlgorithmsFor, keyTypeOfBlob, knownHostsLookupName, knownKeyTypes, parseKnownHosts, sha256Fingerprint,
  type HostKeyVerdict, type KnownHostEntry,
} from '../inventory/known-hosts.ts';

/** The trust decision for one server, ready before the handshake starts. */
export interface HostKeyCheck {
  lookupName: string;
  /** Exact `algorithms.serverHostKey` for ssh2: the types we know for this host first, so a host known by RSA only is asked for RSA. */
  algorithms: ReturnType<typeof hostKeyAlgorithmsFor>;
  verdict(blob: Buffer): HostKeyVerdict;
  /** Which file (or "console") a trusted entry came from, for messages. */
  sourceOf(entry: KnownHostEntry): string;
}

/** The console's own table as known_hosts entries (the source shown is "console"). */
const CONSOLE_SOURCE = 'console';

function rowToEntry(row: KnownKeyRow): KnownHostEntry {
  return {
    file: CONSOLE_SOURCE, line: 0, marker: null, patterns: [row.lookupName], hashed: null,
    keyType: row.keyType, key: row.keyBlob, comment: '',
  };
}

/**
 * Host keys the console trusts: the user's known_hosts files (UserKnownHostsFile and
 * GlobalKnownHostsFile of the host's resolved ssh config, hashed entries, `[host]:port`,
 * `@revoked`) plus keys an administrator accepted in the console. Nothing is ever trusted
 * on first use: an unknown key is recorded as pending and refused.
 */
export class HostKeyTrust {
  private readonly files = new Map<string, { stamp: string; entries: KnownHostEntry[] }>();

  constructor(private readonly hosts: HostRepository) {}

  /**
   * The trust decision for a server at `target` (HostName, Port, HostKeyAlias of its
   * resolved config), from `knownHostsFiles` and the console's table. Like OpenSSH, a host on
   * a port other than 22 with nothing known under `[host]:port` may be trusted by a key
   * known under the bare host name.
   */
  async prepare(target: { host: string; port: number; hostKeyAlias?: string }, knownHostsFiles: string[]): Promise<HostKeyCheck> {
    const lookupName = knownHostsLookupName(target.host, target.port, target.hostKeyAlias);
    const bareName = knownHostsLookupName(target.host, 22);
    const fromFiles = (await Promise.all(knownHostsFiles.map((f) => this.readFile(f)))).flat();
    const fromConsole = (await this.hosts.keysFor([lookupName])).filter((r) => r.status === 'trusted').map(rowToEntry);
    const entries = [...fromFiles, ...fromConsole];
    const types = knownKeyTypes(entries, lookupName);
    return {
      lookupName,
      algorithms: hostKeyAlgorithmsFor(types.length || target.hostKeyAlias ? types : knownKeyTypes(entries, bareName)),
      verdict: (blob) => checkHostKeyAt(entries, target, blob),
      sourceOf: (e) => (e.file === CONSOLE_SOURCE ? CONSOLE_SOURCE : `${e.file}:${e.line}`),
    };
  }

  /** Remembers a key nobody trusts yet, so an administrator can accept it. */
  async notePending(lookupName: string, blob: Buffer): Promise<void> {
    await this.hosts.notePresented(lookupName, keyTypeOfBlob(blob), blob, sha256Fingerprint(blob));
  }

  /** Keys from the user's known_hosts files that match `lookupName` (for display). */
  async fileEntriesFor(lookupName: string, knownHostsFiles: string[]): Promise<KnownHostEntry[]> {
    const entries = (await Promise.all(knownHostsFiles.map((f) => this.readFile(f)))).flat();
    return entries.filter((e) => e.marker !== 'cert-authority' && entryMatches(e, lookupName));
  }

  private async readFile(file: string): Promise<KnownHostEntry[]> {
    const st = await fs.stat(file).catch(() => null);
    if (!st?.isFile()) return [];
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    const cached = this.files.get(file);
    if (cached?.stamp === stamp) return cached.entries;
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    const { entries } = parseKnownHosts(text, file);
    this.files.set(file, { stamp, entries });
    return entries;
  }
}
