import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkHostKey, checkHostKeyAt, entryMatches, formatKnownHostsLine, hostKeyAlgorithmsFor, keyTypeOfBlob, knownHostsLookupName,
  knownKeyTypes, parseKnownHosts, sha256Fingerprint, type KnownHostEntry,
} from '../../server/inventory/known-hosts.ts';
import { requireTool } from '../helpers/require-tool.ts';
import { sshdAvailable, startSshd, type TestSshd } from '../helpers/sshd.ts';

/**
 * known_hosts semantics, with OpenSSH 9.2 itself as the oracle where it can be one:
 * ssh-keygen makes the keys, hashes files (-H), looks names up (-F) and prints fingerprints
 * (-lf); the last block asks the real ssh client about the same files.
 */

interface TestKey {
  type: string;
  blob: Buffer;
  /** `type base64`, the key part of a known_hosts line. */
  text: string;
  pubPath: string;
}

let tmp: string;
const keys: Record<'ed' | 'ed2' | 'rsa' | 'ecdsa', TestKey> = {} as never;

function keygen(name: string, args: string[]): TestKey {
  const keyPath = path.join(tmp, name);
  execFileSync('ssh-keygen', ['-q', ...args, '-N', '', '-C', `${name}@test`, '-f', keyPath]);
  const [type, base64] = fs.readFileSync(`${keyPath}.pub`, 'utf8').split(' ');
  return { type, blob: Buffer.from(base64, 'base64'), text: `${type} ${base64}`, pubPath: `${keyPath}.pub` };
}

/** Writes known_hosts text to a file and returns its path. */
function knownHostsFile(text: string): string {
  const file = path.join(tmp, `known_hosts_${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(file, text);
  return file;
}

/** Line numbers `ssh-keygen -F name` reports as matching. */
function sshKeygenFind(file: string, name: string): number[] {
  let out: string;
  try {
    out = execFileSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8' });
  } catch {
    return []; // exit status 1: nothing found
  }
  return [...out.matchAll(/^# Host .* found: line (\d+)/gm)].map((m) => Number(m[1]));
}

function parse(text: string, file = 'known_hosts') {
  return parseKnownHosts(text, file);
}

function matchingLines(entries: KnownHostEntry[], name: string): number[] {
  return entries.filter((e) => entryMatches(e, name)).map((e) => e.line);
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-known-hosts-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.runIf(requireTool('ssh-keygen', 'openssh-client'))('known_hosts', () => {
  beforeAll(() => {
    keys.ed = keygen('ed', ['-t', 'ed25519']);
    keys.ed2 = keygen('ed2', ['-t', 'ed25519']);
    keys.rsa = keygen('rsa', ['-t', 'rsa', '-b', '2048']);
    keys.ecdsa = keygen('ecdsa', ['-t', 'ecdsa']);
  });

  it('reads a plain entry', () => {
    const { entries, errors } = parse(`example.com ${keys.ed.text} deploy key\n`, '/home/u/.ssh/known_hosts');
    expect(errors).toEqual([]);
    expect(entries).toEqual([{
      file: '/home/u/.ssh/known_hosts', line: 1, marker: null, patterns: ['example.com'], hashed: null,
      keyType: 'ssh-ed25519', key: keys.ed.blob, comment: 'deploy key',
    }]);
    expect(entryMatches(entries[0], 'example.com')).toBe(true);
    expect(entryMatches(entries[0], 'www.example.com')).toBe(false);
    expect(keyTypeOfBlob(entries[0].key)).toBe('ssh-ed25519');
  });

  it('matches any name of a comma list', () => {
    const { entries } = parse(`alpha,beta.lan,10.0.0.7 ${keys.ed.text}\n`);
    expect(entries[0].patterns).toEqual(['alpha', 'beta.lan', '10.0.0.7']);
    for (const name of ['alpha', 'beta.lan', '10.0.0.7']) expect(entryMatches(entries[0], name), name).toBe(true);
    expect(entryMatches(entries[0], 'gamma')).toBe(false);
  });

  // One file of patterns, many names: every answer must be the one ssh-keygen -F gives.
  const patternLines = [
    '*.example.com', 'web?.example.org', '*.example.net,!bad.example.net', '[127.0.0.1]:2222', '127.0.0.1',
    '[*.lan]:*', 'Host.EXAMPLE.io', '!*.internal,*', 'db*,!db-old*', '*', '?', 'a*b*c',
  ];
  const names = [
    'a.example.com', 'example.com', 'web1.example.org', 'web12.example.org', 'good.example.net', 'bad.example.net',
    '[127.0.0.1]:2222', '127.0.0.1', '[127.0.0.1]:22', '[box.lan]:2200', 'box.lan', 'host.example.io', 'x.internal',
    'db1', 'db-old2', 'x', 'abc', 'aXbYc', 'acb', '[a]:1',
  ];

  it('matches wildcard patterns (* and ?) as ssh-keygen -F does', () => {
    const text = patternLines.map((p) => `${p} ${keys.ed.text}\n`).join('');
    const file = knownHostsFile(text);
    const { entries, errors } = parse(text);
    expect(errors).toEqual([]);
    for (const name of names) expect(matchingLines(entries, name), name).toEqual(sshKeygenFind(file, name));
    // Spot checks that the oracle agreed on something meaningful.
    expect(matchingLines(entries, 'web1.example.org')).toContain(2);
    expect(matchingLines(entries, 'web12.example.org')).not.toContain(2);
    expect(matchingLines(entries, '[box.lan]:2200')).toContain(6);
  });

  it('a matching negated pattern makes the whole line not match', () => {
    const { entries } = parse(`*.example.net,!bad.example.net ${keys.ed.text}\n!*.internal,* ${keys.ed.text}\n`);
    expect(entryMatches(entries[0], 'good.example.net')).toBe(true);
    expect(entryMatches(entries[0], 'bad.example.net')).toBe(false);
    expect(entryMatches(entries[1], 'anything')).toBe(true);
    expect(entryMatches(entries[1], 'x.internal')).toBe(false);
    // A negation alone never makes a positive match.
    expect(entryMatches(parse(`!bad ${keys.ed.text}\n`).entries[0], 'good')).toBe(false);
  });

  it('accepts a hashed entry generated by ssh-keygen -H', () => {
    const file = knownHostsFile(`plain.example ${keys.ed.text}\n[127.0.0.1]:2222 ${keys.rsa.text}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain('plain.example');
    const { entries, errors } = parse(text);
    expect(errors).toEqual([]);
    expect(entries).toHaveLength(2);
    expect(entries[0].patterns).toBeNull();
    expect(entries[0].hashed!.salt).toHaveLength(20);
    expect(entries[0].hashed!.hmac).toHaveLength(20);
    expect(matchingLines(entries, 'plain.example')).toEqual([1]);
    expect(matchingLines(entries, '[127.0.0.1]:2222')).toEqual([2]);
    expect(matchingLines(entries, '127.0.0.1')).toEqual([]);
    expect(matchingLines(entries, 'other.example')).toEqual([]);
    expect(sshKeygenFind(file, '[127.0.0.1]:2222')).toEqual([2]);
    expect(checkHostKey(entries, '[127.0.0.1]:2222', keys.rsa.blob)).toEqual({ status: 'trusted', entry: entries[1] });
  });

  it('matches [host]:port entries only on that port, and a port-22 entry only on port 22', () => {
    const { entries } = parse(`[127.0.0.1]:2222 ${keys.ed.text}\n127.0.0.1 ${keys.ed2.text}\n`);
    expect(knownHostsLookupName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
    expect(knownHostsLookupName('127.0.0.1', 22)).toBe('127.0.0.1');
    expect(matchingLines(entries, knownHostsLookupName('127.0.0.1', 2222))).toEqual([1]);
    expect(matchingLines(entries, knownHostsLookupName('127.0.0.1', 22))).toEqual([2]);
    expect(matchingLines(entries, knownHostsLookupName('127.0.0.1', 2200))).toEqual([]);
  });

  it('builds lookup names like ssh: lowercased host, or the HostKeyAlias alone', () => {
    expect(knownHostsLookupName('Build.Example.COM', 22)).toBe('build.example.com');
    expect(knownHostsLookupName('Build.Example.COM', 2022)).toBe('[build.example.com]:2022');
    expect(knownHostsLookupName('10.0.0.5', 2022, 'MyAlias')).toBe('myalias');
  });

  it('knows several keys per host and trusts each of them', () => {
    const text = [
      `h1 ${keys.rsa.text}`, `other ${keys.ecdsa.text}`, `h1,h2 ${keys.ed.text}`, `h1 ${keys.ecdsa.text}`,
      `@revoked h1 ${keys.ed2.text}`, `@cert-authority h1 ${keys.ed2.text}`, `h1 ${keys.rsa.text}`,
    ].join('\n');
    const { entries } = parse(text);
    expect(knownKeyTypes(entries, 'h1')).toEqual(['ssh-rsa', 'ssh-ed25519', 'ecdsa-sha2-nistp256']);
    expect(knownKeyTypes(entries, 'h2')).toEqual(['ssh-ed25519']);
    expect(knownKeyTypes(entries, 'nobody')).toEqual([]);
    for (const k of [keys.rsa, keys.ed, keys.ecdsa]) expect(checkHostKey(entries, 'h1', k.blob).status, k.type).toBe('trusted');
  });

  it('detects a changed key', () => {
    const { entries } = parse(`h1 ${keys.ed.text}\nh1 ${keys.rsa.text}\n`);
    expect(checkHostKey(entries, 'h1', keys.ed2.blob)).toEqual({ status: 'changed', known: entries });
    expect(checkHostKey(entries, 'h2', keys.ed2.blob)).toEqual({ status: 'unknown', knownTypes: [] });
  });

  it('treats a key of a type not known for the host as changed, as ssh does', () => {
    const { entries } = parse(`h1 ${keys.rsa.text}\n`);
    expect(checkHostKey(entries, 'h1', keys.ed.blob)).toEqual({ status: 'changed', known: entries });
  });

  it('refuses a @revoked key even when another line trusts the same key', () => {
    const { entries } = parse(`h1 ${keys.ed.text}\n@revoked h1 ${keys.ed.text}\n@revoked * ${keys.rsa.text}\nh1 ${keys.rsa.text}\n`);
    expect(entries[1].marker).toBe('revoked');
    expect(checkHostKey(entries, 'h1', keys.ed.blob)).toEqual({ status: 'revoked', entry: entries[1] });
    expect(checkHostKey(entries, 'anywhere', keys.rsa.blob)).toEqual({ status: 'revoked', entry: entries[2] });
    expect(knownKeyTypes(entries, 'h1')).toEqual(['ssh-ed25519', 'ssh-rsa']);
  });

  it('applies @revoked only where its host patterns match, as ssh does', () => {
    const { entries } = parse(`@revoked elsewhere ${keys.ed.text}\nh1 ${keys.ed.text}\n`);
    expect(checkHostKey(entries, 'h1', keys.ed.blob).status).toBe('trusted');
    expect(checkHostKey(entries, 'elsewhere', keys.ed.blob).status).toBe('revoked');
  });

  it('ignores @cert-authority lines', () => {
    const { entries, errors } = parse(`@cert-authority *.example.com ${keys.ed.text}\n`);
    expect(errors).toEqual([]);
    expect(entries[0].marker).toBe('cert-authority');
    expect(checkHostKey(entries, 'a.example.com', keys.ed.blob)).toEqual({ status: 'unknown', knownTypes: [] });
    expect(knownKeyTypes(entries, 'a.example.com')).toEqual([]);
  });

  it('skips comments and blank lines, and reports malformed lines with file:line', () => {
    const b64 = keys.ed.text.split(' ')[1];
    const rsaB64 = keys.rsa.text.split(' ')[1];
    const text = [
      '# a comment', '', '   ', `\t# indented comment`,
      `good ${keys.ed.text} ops key`,
      `@bogus h ${keys.ed.text}`,
      `@revoked @cert-authority h ${keys.ed.text}`,
      'lonely-host',
      'h ssh-ed25519',
      `h ssh-foo ${b64}`,
      `h ssh-ed25519 ${b64.slice(0, -4)}!!!!`,
      `h ssh-rsa ${b64}`,
      `h ssh-ed25519 ${b64.slice(0, 20)}`,
      '|1|bm90IGEgc2FsdA==|eA== ssh-ed25519 ' + b64,
      'h 2048 35 123456789',
      `  indented ${keys.rsa.text}  trailing  `,
      `crlf ${keys.ed.text} laptop\r`,
      `aliased rsa-sha2-512 ${rsaB64}`,
    ].join('\n');
    const { entries, errors } = parse(text, '/etc/ssh/ssh_known_hosts');
    expect(entries.map((e) => [e.line, e.patterns, e.keyType, e.comment])).toEqual([
      [5, ['good'], 'ssh-ed25519', 'ops key'],
      [16, ['indented'], 'ssh-rsa', 'trailing'],
      [17, ['crlf'], 'ssh-ed25519', 'laptop'],
      [18, ['aliased'], 'ssh-rsa', ''],
    ]);
    expect(errors.map((e) => `${e.file}:${e.line}`)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map((n) => `/etc/ssh/ssh_known_hosts:${n}`));
    expect(errors.map((e) => e.reason)).toEqual([
      'invalid marker "@bogus"', 'more than one marker', 'no key after the host names', 'no key after the key type',
      'unknown key type "ssh-foo"', 'key is not valid base64', 'key blob is ssh-ed25519 but the line says ssh-rsa',
      'malformed ssh-ed25519 key', 'invalid hashed host name', 'SSH protocol 1 key (not supported)',
    ]);
  });

  it('computes the fingerprint ssh-keygen -lf prints, for ed25519 and RSA', () => {
    for (const k of [keys.ed, keys.rsa, keys.ecdsa]) {
      const shown = execFileSync('ssh-keygen', ['-lf', k.pubPath], { encoding: 'utf8' }).split(' ')[1];
      expect(sha256Fingerprint(k.blob), k.type).toBe(shown);
    }
  });

  it('asks a host known only by RSA for RSA first, using only algorithms ssh2 supports', () => {
    const ssh2 = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js');
    const supported: string[] = ssh2.SUPPORTED_SERVER_HOST_KEY;
    const algorithms = hostKeyAlgorithmsFor(['ssh-rsa']);
    expect(algorithms.slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(algorithms.filter((a) => !supported.includes(a))).toEqual([]);
    expect(new Set(algorithms).size).toBe(algorithms.length);
    // Nothing known: exactly ssh2's defaults.
    expect(hostKeyAlgorithmsFor([])).toEqual(ssh2.DEFAULT_SERVER_HOST_KEY);
    // Types ssh2 cannot verify are left out; the defaults still follow.
    const mixed = hostKeyAlgorithmsFor(['sk-ssh-ed25519@openssh.com', 'ecdsa-sha2-nistp384', 'ssh-ed25519']);
    expect(mixed.slice(0, 2)).toEqual(['ecdsa-sha2-nistp384', 'ssh-ed25519']);
    expect(mixed.filter((a) => !supported.includes(a))).toEqual([]);
  });

  it('writes a line that reads back, and that ssh-keygen finds', () => {
    const line = formatKnownHostsLine('[build.example]:2022', 'ssh-ed25519', keys.ed.blob);
    expect(line).toBe(`[build.example]:2022 ${keys.ed.text}`);
    expect(formatKnownHostsLine('h', 'rsa-sha2-512', keys.rsa.blob)).toBe(`h ${keys.rsa.text}`);
    const { entries, errors } = parse(`${line}\n`);
    expect(errors).toEqual([]);
    expect(checkHostKey(entries, '[build.example]:2022', keys.ed.blob).status).toBe('trusted');
    expect(sshKeygenFind(knownHostsFile(`${line}\n`), '[build.example]:2022')).toEqual([1]);
    expect(() => formatKnownHostsLine('a b', 'ssh-ed25519', keys.ed.blob)).toThrow();
    expect(() => formatKnownHostsLine('h', 'ssh-rsa', keys.ed.blob)).toThrow(/ssh-ed25519/);
  });

  it('falls back to the bare host name for a non-22 port only when nothing is known under [host]:port', () => {
    const { entries } = parse(`h1 ${keys.ed.text}\n[h2]:2022 ${keys.rsa.text}\nh2 ${keys.ed.text}\n`);
    expect(checkHostKey(entries, '[h1]:2022', keys.ed.blob).status).toBe('unknown');
    expect(checkHostKeyAt(entries, { host: 'h1', port: 2022 }, keys.ed.blob).status).toBe('trusted');
    expect(checkHostKeyAt(entries, { host: 'h1', port: 2022 }, keys.ed2.blob).status).toBe('unknown');
    expect(checkHostKeyAt(entries, { host: 'h2', port: 2022 }, keys.ed.blob).status).toBe('changed');
    expect(checkHostKeyAt(entries, { host: 'h1', port: 2022, hostKeyAlias: 'x' }, keys.ed.blob).status).toBe('unknown');
  });
});

/** What OpenSSH's ssh client decides about a known_hosts file, read from its exit status and message. */
function sshVerdict(server: TestSshd, knownHosts: string, hostKeyAlgorithm: string): Promise<string> {
  const args = [
    '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHostsFile(knownHosts)}`,
    '-o', `HostKeyAlgorithms=${hostKeyAlgorithm}`, '-o', 'IdentitiesOnly=yes', '-i', server.clientKey.privateKeyPath,
    '-p', String(server.port), `${server.user}@${server.host}`, 'true',
  ];
  return new Promise((resolve) => {
    execFile('ssh', args, { timeout: 20_000 }, (err, _stdout, stderr) => {
      if (!err) resolve('trusted');
      else if (/REVOKED HOST KEY/.test(stderr)) resolve('revoked');
      else if (/HOST IDENTIFICATION HAS CHANGED/.test(stderr)) resolve('changed');
      else if (/host key is known for .* you have requested strict checking/.test(stderr)) resolve('unknown');
      else resolve(`ssh failed: ${stderr}`);
    });
  });
}

describe.runIf(sshdAvailable())('host key decisions agree with the ssh client', () => {
  let server: TestSshd;
  beforeAll(async () => {
    server = await startSshd({ hostKeyTypes: ['ed25519', 'rsa'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('for trusted, changed, revoked, unknown, hashed, wildcard and port-less entries', async () => {
    const ed = server.hostKeys.find((k) => k.type === 'ssh-ed25519')!;
    const rsa = server.hostKeys.find((k) => k.type === 'ssh-rsa')!;
    const name = `[127.0.0.1]:${server.port}`;
    const other = keygen(`other-${Date.now()}`, ['-t', 'ed25519']);
    const hashedFile = knownHostsFile(`${name} ${ed.publicKey}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', hashedFile]);

    const cases: Array<{ what: string; text: string; alg?: string; blob?: Buffer; expected: string }> = [
      { what: 'exact key', text: `${name} ${ed.publicKey}`, expected: 'trusted' },
      { what: 'other key of the same type', text: `${name} ${other.text}`, expected: 'changed' },
      { what: 'only the RSA key known, ed25519 presented', text: `${name} ${rsa.publicKey}`, expected: 'changed' },
      { what: 'RSA key offered as rsa-sha2-512', text: `${name} ${rsa.publicKey}`, alg: 'rsa-sha2-512', blob: rsa.blob, expected: 'trusted' },
      { what: 'line typed rsa-sha2-256', text: `${name} rsa-sha2-256 ${rsa.publicKey.split(' ')[1]}`, alg: 'rsa-sha2-512', blob: rsa.blob, expected: 'trusted' },
      { what: 'revoked and trusted', text: `${name} ${ed.publicKey}\n@revoked ${name} ${ed.publicKey}`, expected: 'revoked' },
      { what: 'revoked for every host', text: `@revoked * ${ed.publicKey}\n${name} ${ed.publicKey}`, expected: 'revoked' },
      { what: 'revoked for another host', text: `@revoked elsewhere ${ed.publicKey}\n${name} ${ed.publicKey}`, expected: 'trusted' },
      { what: 'cert-authority only', text: `@cert-authority ${name} ${ed.publicKey}`, expected: 'unknown' },
      { what: 'hashed', text: fs.readFileSync(hashedFile, 'utf8'), expected: 'trusted' },
      { what: 'wildcard port', text: `[127.0.0.1]:* ${ed.publicKey}`, expected: 'trusted' },
      { what: 'wildcard with this port negated', text: `[127.0.0.1]:*,!${name} ${ed.publicKey}`, expected: 'unknown' },
      { what: 'uppercase pattern', text: `[LOCALHOST]:${server.port},[127.0.0.1]:${server.port} ${ed.publicKey}`, expected: 'trusted' },
      { what: 'port-22 entry for a non-22 port', text: `127.0.0.1 ${ed.publicKey}`, expected: 'trusted' },
      { what: 'port-22 entry with another key', text: `127.0.0.1 ${other.text}`, expected: 'unknown' },
      { what: 'nothing', text: '', expected: 'unknown' },
    ];
    for (const c of cases) {
      const { entries } = parse(`${c.text}\n`);
      const ours = checkHostKeyAt(entries, { host: server.host, port: server.port }, c.blob ?? ed.blob).status;
      expect(ours, c.what).toBe(c.expected);
    }
    // A few at a time: well under sshd's MaxStartups.
    for (let i = 0; i < cases.length; i += 4) {
      const batch = cases.slice(i, i + 4);
      const verdicts = await Promise.all(batch.map((c) => sshVerdict(server, `${c.text}\n`, c.alg ?? 'ssh-ed25519')));
      batch.forEach((c, j) => expect(verdicts[j], c.what).toBe(c.expected));
    }
  });

  it('orders host key algorithms so ssh2 is offered the known RSA key', async () => {
    const { entries } = parse(server.knownHostsLine(['ssh-rsa']));
    const name = knownHostsLookupName(server.host, server.port);
    expect(knownKeyTypes(entries, name)).toEqual(['ssh-rsa']);
    const presented = await new Promise<Buffer>((resolve, reject) => {
      const c = new ssh2.Client();
      c.on('error', reject);
      c.connect({
        host: server.host, port: server.port, username: server.user, privateKey: fs.readFileSync(server.clientKey.privateKeyPath),
        algorithms: { serverHostKey: hostKeyAlgorithmsFor(knownKeyTypes(entries, name)) },
        hostVerifier: (key: Buffer) => {
          resolve(key);
          return false;
        },
      });
    });
    expect(keyTypeOfBlob(presented)).toBe('ssh-rsa');
    expect(checkHostKey(entries, name, presented).status).toBe('trusted');
  });
});
