import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SshConfigError, defaultSshConfigContext, parseJumpHop, resolveSshConfig, type ResolvedSshConfig, type SshConfigContext,
} from '../../server/inventory/ssh-config.ts';
import { requireTool } from '../helpers/require-tool.ts';

/**
 * The resolver against OpenSSH itself: every corpus case is resolved here and by
 * `ssh -G -F <file>` (plus `ssh -v`, whose "identity file" lines show the expanded key
 * paths that `ssh -G` prints unexpanded), and every modelled option must agree. `Match
 * exec` commands append to a log, so the commands run — and their expanded tokens — are
 * compared too.
 */

const FIXTURES = fileURLToPath(new URL('../fixtures/ssh-config/', import.meta.url));
/** $HOME for both sides: relative Includes resolve under <home>/.ssh. */
const HOME = path.join(FIXTURES, 'home');
const me = os.userInfo();
const hasSsh = requireTool('ssh', 'openssh-client');

let tmp: string;
let log: string;

function environment(): Record<string, string | undefined> {
  return { ...process.env, HOME, SHELL: '/bin/sh', SSHCFG_DIR: tmp, SSHCFG_LOG: log };
}

function contextFor(file: string, c: { user?: string; port?: number }): SshConfigContext {
  return {
    files: [file],
    localUser: me.username,
    passwdHome: me.homedir,
    envHome: HOME,
    env: environment(),
    localHostname: os.hostname(),
    ...(c.user !== undefined && { user: c.user }),
    ...(c.port !== undefined && { port: c.port }),
  };
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ssh', args, { env: environment() as NodeJS.ProcessEnv, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function cliArgs(file: string, c: Case): string[] {
  return ['-F', file, ...(c.user ? ['-l', c.user] : []), ...(c.port ? ['-p', String(c.port)] : []), '--', c.alias];
}

/** `ssh -G` output as keyword → value (single-valued keywords) plus the identityfile lines. */
async function sshG(file: string, c: Case): Promise<{ ok: true; values: Map<string, string> } | { ok: false; stderr: string }> {
  const r = await run(['-G', ...cliArgs(file, c)]);
  if (r.code !== 0) return { ok: false, stderr: r.stderr };
  const values = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0 && !values.has(line.slice(0, space))) values.set(line.slice(0, space), line.slice(space + 1));
  }
  return { ok: true, values };
}

/**
 * The key files ssh actually tries, expanded: `ssh -v` logs "identity file <path> type N"
 * for each (and for its "-cert" companion) before connecting. The proxy command `false`
 * ends the connection right after.
 */
async function sshIdentityFiles(file: string, c: Case): Promise<string[]> {
  const r = await run(['-v', '-o', 'ProxyCommand=false', '-o', 'BatchMode=yes', ...cliArgs(file, c)]);
  const lines = [...r.stderr.matchAll(/^debug1: identity file (.*) type -?\d+$/gm)].map((m) => m[1]);
  const files: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    files.push(lines[i]);
    if (lines[i + 1] === `${lines[i]}-cert`) i++;
  }
  return files;
}

function takeLog(): string {
  const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
  fs.rmSync(log, { force: true });
  return text;
}

const words = (v: string | undefined) => (v === undefined || v === 'none' ? [] : v.split(' '));
/** ssh -G prints GlobalKnownHostsFile before ssh applies its `~` expansion. */
const tildeToHome = (p: string) => (p.startsWith('~/') ? path.join(me.homedir, p.slice(2)) : p);

/** ssh -G's view of the options this resolver models, in ResolvedSshConfig's terms. */
function expectedFrom(g: Map<string, string>, identityFiles: string[]): Omit<ResolvedSshConfig, 'sources' | 'warnings' | 'proxyJump' | 'hostKeyAlgorithms'> {
  const strict = g.get('stricthostkeychecking');
  return {
    host: g.get('host') as string,
    hostname: g.get('hostname') as string,
    user: g.get('user') as string,
    port: Number(g.get('port')),
    identityFiles,
    identitiesOnly: g.get('identitiesonly') === 'yes',
    identityAgent: g.get('identityagent') ?? null,
    proxyCommand: g.get('proxycommand') ?? null,
    hostKeyAlias: g.get('hostkeyalias') ?? null,
    userKnownHostsFiles: words(g.get('userknownhostsfile')),
    globalKnownHostsFiles: words(g.get('globalknownhostsfile')).map(tildeToHome),
    serverAliveInterval: Number(g.get('serveraliveinterval')),
    serverAliveCountMax: Number(g.get('serveralivecountmax')),
    connectTimeout: g.get('connecttimeout') === 'none' ? null : Number(g.get('connecttimeout')),
    strictHostKeyChecking: strict === 'true' ? 'yes' : strict === 'false' ? 'no' : (strict as 'ask' | 'accept-new'),
  };
}

interface Case {
  name: string;
  file: string;
  alias: string;
  user?: string;
  port?: number;
  /** ssh refuses this configuration: the resolver must throw SshConfigError (matching this, when given). */
  error?: RegExp;
  /** Builds the config at run time (for attributes a checkout cannot carry, like modes); returns its path. */
  prepare?: () => string;
}

const cases: Case[] = [
  { name: 'the first value for an option wins even over a later, more specific Host block', file: 'first-value-wins.conf', alias: 'web' },
  { name: 'IdentityFile accumulates over matching blocks in order and drops exact duplicates', file: 'identity-files.conf', alias: 'web' },
  { name: 'IdentityFile from a single block when only Host * applies', file: 'identity-files.conf', alias: 'other' },
  { name: 'UserKnownHostsFile and GlobalKnownHostsFile are set whole by the first line that applies', file: 'known-hosts-first-line.conf', alias: 'web' },
  { name: '? in a Host pattern matches exactly one character', file: 'host-wildcards.conf', alias: 'ab' },
  { name: '? does not match two characters, so the next pattern is tried', file: 'host-wildcards.conf', alias: 'abb' },
  { name: '* in a Host pattern matches any run of characters', file: 'host-wildcards.conf', alias: 'www.example.com' },
  { name: 'several patterns on one Host line, and [] is not a character class', file: 'host-wildcards.conf', alias: 'db1' },
  { name: 'a negated Host pattern excludes the alias even when another pattern matches', file: 'host-negation.conf', alias: 'bastion' },
  { name: 'a Host line with a non-matching negation and a matching pattern applies', file: 'host-negation.conf', alias: 'app' },
  { name: 'a comma inside a Host pattern is a literal character', file: 'host-comma-literal.conf', alias: 'app' },
  { name: 'Host patterns are case-sensitive and HostName is lowercased (upper-case alias)', file: 'host-case.conf', alias: 'WEB' },
  { name: 'Host patterns are case-sensitive (lower-case alias)', file: 'host-case.conf', alias: 'web' },
  { name: 'Match host tests the lowercased HostName with comma lists and negation', file: 'match-host.conf', alias: 'app' },
  { name: 'Match !host applies when the host does not match', file: 'match-host.conf', alias: 'db01.prod.example' },
  { name: 'Match originalhost tests the name as typed, case-insensitively', file: 'match-originalhost.conf', alias: 'short' },
  { name: 'Match user sees the -l user', file: 'match-user.conf', alias: 'anything', user: 'alice' },
  { name: 'Match user sees a User set earlier in the config', file: 'match-user.conf', alias: 'configured' },
  { name: 'Match localuser and !localuser test the local account', file: 'match-localuser.conf', alias: 'host' },
  { name: 'Match all applies and several criteria on one line must all hold', file: 'match-all.conf', alias: 'web' },
  { name: 'Match with one failing criterion does not apply', file: 'match-all.conf', alias: 'web', user: 'guest' },
  { name: 'Match exec matches on exit status 0 and skips commands after a failed criterion', file: 'match-exec.conf', alias: 'host' },
  { name: 'Match exec expands %h %p %r %n %C %L %l %d %u %i %k and %% like ssh', file: 'match-exec-tokens.conf', alias: 'tokens' },
  { name: 'Match final re-reads the config against the final host name', file: 'match-final.conf', alias: 'web' },
  { name: 'Match canonical holds only in the pass after CanonicalizeHostname', file: 'match-canonical.conf', alias: 'app' },
  { name: 'Include globs under ~/.ssh ($HOME), reads matches in bytewise order and skips dot files', file: 'include-glob.conf', alias: 'any' },
  { name: 'Include inside a matching Host block applies; its Host lines do not leak', file: 'include-in-block.conf', alias: 'db' },
  { name: 'nested Include with ~ and missing files silently ignored', file: 'include-in-block.conf', alias: 'web' },
  { name: 'Include inside a Host block that does not apply is ignored (but still parsed)', file: 'include-in-block.conf', alias: 'other' },
  { name: 'keyword case, keyword=value, quotes, escapes, comments and leading whitespace', file: 'syntax.conf', alias: 'syntax' },
  { name: 'CRLF line endings read like LF ones', file: 'crlf.conf', alias: 'crlf' },
  { name: 'tokens, ~ and ${VAR} expand in IdentityFile, UserKnownHostsFile and IdentityAgent', file: 'tokens.conf', alias: 'tok' },
  { name: 'under HostKeyAlias %k is the lowercased alias and %h the host name', file: 'tokens-hostkeyalias.conf', alias: 'aliased' },
  { name: '%h in HostName is the name as typed', file: 'hostname-token.conf', alias: 'printer.lan' },
  { name: '%% in HostName is a literal percent', file: 'hostname-token.conf', alias: 'percent' },
  { name: 'a short numeric IPv4 HostName becomes its canonical address', file: 'hostname-numeric.conf', alias: 'short-ip' },
  { name: 'a hexadecimal IPv4 HostName becomes its canonical address', file: 'hostname-numeric.conf', alias: 'hex-ip' },
  { name: 'an IPv6 HostName is rewritten to canonical lowercase text', file: 'hostname-numeric.conf', alias: 'v6' },
  { name: 'an IPv6 HostName that differs only in case is kept as written', file: 'hostname-numeric.conf', alias: 'v6-upper' },
  { name: 'a numeric alias matches Host patterns and stays numeric', file: 'hostname-numeric.conf', alias: '10.0.0.7' },
  { name: 'every default applies with an empty config', file: 'empty.conf', alias: 'plain' },
  { name: '-l and -p override the config and Match user sees -l', file: 'command-line.conf', alias: 'cli', user: 'override', port: 2299 },
  { name: 'user@host sets the user like -l', file: 'command-line.conf', alias: 'override@cli' },
  { name: 'an ssh:// destination sets user and port like -l and -p', file: 'command-line.conf', alias: 'ssh://override@cli:2345' },
  { name: 'a ProxyJump chain keeps user@host:port, ssh:// and [IPv6] hops', file: 'proxyjump-chain.conf', alias: 'inner' },
  { name: 'a ProxyJump comment is stripped and a numeric hop is bracketed', file: 'proxyjump-chain.conf', alias: 'numeric' },
  { name: 'a ProxyJump value ends at its first blank', file: 'proxyjump-chain.conf', alias: 'spaced' },
  { name: 'ProxyCommand first wins over a later ProxyJump', file: 'proxycommand-first.conf', alias: 'pc-first' },
  { name: 'ProxyJump first wins over a later ProxyCommand', file: 'proxycommand-first.conf', alias: 'pj-first' },
  { name: 'ProxyJump none leaves a later ProxyCommand in effect', file: 'proxycommand-first.conf', alias: 'pj-none' },
  { name: 'ProxyCommand none blocks a later ProxyJump', file: 'proxycommand-first.conf', alias: 'pc-none' },
  { name: 'StrictHostKeyChecking accept-new, ConnectTimeout, IdentitiesOnly and HostKeyAlgorithms', file: 'client-options.conf', alias: 'strict' },
  { name: 'StrictHostKeyChecking off means no, zero values are kept and Port takes service names', file: 'client-options.conf', alias: 'off' },
  { name: 'ConnectTimeout none does not latch, so a later value applies', file: 'connecttimeout-none.conf', alias: 'late' },
  { name: 'IgnoreUnknown admits unknown keywords; deprecated and unsupported ones pass', file: 'ignore-unknown.conf', alias: 'any' },
  { name: 'an unknown keyword is refused', file: 'error-unknown-keyword.conf', alias: 'x', error: /line 3: Bad configuration option: nosuchkeyword/ },
  { name: 'a bad Port is refused even in a block that does not apply', file: 'error-bad-port.conf', alias: 'x', error: /line 2: Bad port/ },
  { name: 'a ProxyJump back to the host itself is refused', file: 'error-jump-loop.conf', alias: 'loop', error: /jumphost loop/ },
  { name: 'an unset ${VAR} in IdentityAgent is refused even in a block that does not apply', file: 'error-unset-env.conf', alias: 'x', error: /Invalid environment expansion/ },
  { name: 'Match all combined with other criteria is refused', file: 'error-match-all.conf', alias: 'a', error: /cannot be combined/ },
  { name: 'a recursive Include is refused', file: 'error-include-loop.conf', alias: 'x', error: /Too many recursive configuration includes/ },
  { name: 'an unknown %-token in HostName is refused', file: 'error-hostname-token.conf', alias: 'x', error: /unknown key %r/ },
  { name: 'CanonicalizeFallbackLocal no refuses a name that does not canonicalise', file: 'error-canonical-fallback.conf', alias: 'nowhere', error: /Could not resolve host/ },
  { name: "a second '=' in a Match line leaves arguments ssh refuses", file: 'error-match-equals.conf', alias: 'web', error: /extra arguments at end of line/ },
  { name: 'an unterminated quote is refused', file: 'error-quotes.conf', alias: 'x', error: /invalid quotes/ },
  {
    name: 'a world-writable included file is refused',
    file: 'world-writable',
    alias: 'x',
    error: /Bad owner or permissions/,
    prepare: () => {
      const inc = path.join(tmp, 'writable.conf');
      fs.writeFileSync(inc, 'User nope\n');
      fs.chmodSync(inc, 0o666);
      const main = path.join(tmp, 'includes-writable.conf');
      fs.writeFileSync(main, `Include ${inc}\n`);
      return main;
    },
  },
];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-ssh-config-'));
  log = path.join(tmp, 'exec.log');
  fs.writeFileSync(path.join(tmp, 'present'), '');
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!hasSsh)('ssh_config resolution agrees with ssh -G', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const file = c.prepare ? c.prepare() : path.join(FIXTURES, c.file);
      takeLog();
      const g = await sshG(file, c);
      const sshLog = takeLog();
      const resolved = resolveSshConfig(c.alias, contextFor(file, c));
      if (c.error || !g.ok) {
        expect(g.ok, 'ssh -G accepted a configuration the case expects it to refuse').toBe(false);
        await expect(resolved).rejects.toThrow(SshConfigError);
        if (c.error) await expect(resolved).rejects.toThrow(c.error);
        if (!g.ok && c.error) expect(g.stderr).toMatch(c.error);
        return;
      }
      const r = await resolved;
      const ourLog = takeLog();
      const identityFiles = await sshIdentityFiles(file, c);
      takeLog();

      const { sources: _s, warnings: _w, proxyJump, hostKeyAlgorithms, ...mine } = r;
      expect(mine).toEqual(expectedFrom(g.values, identityFiles));
      expect(ourLog).toBe(sshLog);

      // ssh -G reprints the last hop normalised (user@[addr]:port); compare hop by hop.
      const printedJump = g.values.get('proxyjump');
      expect(proxyJump?.map(parseJumpHop) ?? null).toEqual(printedJump ? printedJump.split(',').map(parseJumpHop) : null);
      if (proxyJump) expect(proxyJump.slice(0, -1)).toEqual(printedJump?.split(',').slice(0, -1));
      // Unset, ssh prints its built-in list; prefixed (+-^) values it prints expanded.
      if (hostKeyAlgorithms !== null && !/^[+\-^]/.test(hostKeyAlgorithms)) expect(hostKeyAlgorithms).toBe(g.values.get('hostkeyalgorithms'));
    });
  }
});

describe('where options come from', () => {
  const file = path.join(FIXTURES, 'sources.conf');

  it('names the file and line of each directive that set a value', async () => {
    const r = await resolveSshConfig('src', contextFor(file, {}));
    expect(r.sources).toEqual({
      hostname: `${file}:2`,
      port: `${file}:3`,
      user: `${file}:6`,
      identityFiles: `${file}:7`,
      proxyJump: `${file}:9`,
      strictHostKeyChecking: `${file}:10`,
    });
    expect(r.proxyJump).toEqual(['gw.example']);
    expect(r.proxyCommand).toBeNull();
  });

  it('marks -l/-p values as command line and leaves defaults out', async () => {
    const r = await resolveSshConfig('elsewhere', contextFor(path.join(FIXTURES, 'empty.conf'), { user: 'bob', port: 2022 }));
    expect(r.sources).toEqual({ user: 'command line', port: 'command line' });
  });

  it('reports unsupported and ignored keywords as warnings with file:line', async () => {
    const f = path.join(FIXTURES, 'ignore-unknown.conf');
    const r = await resolveSshConfig('any', contextFor(f, {}));
    expect(r.warnings).toEqual([
      `${f}:3: ignored unknown option "usekeychain"`,
      `${f}:4: ignored unknown option "addkeystoagentxyz"`,
      `${f}:5: unsupported option "rsaauthentication" ignored`,
      `${f}:6: deprecated option "useroaming" ignored`,
    ]);
  });
});

describe('config files as the ssh client picks them', () => {
  it('a system config may not Include ~ paths, and a missing user config is skipped', async () => {
    const sys = path.join(os.tmpdir(), `vmo-ssh-system-${process.pid}.conf`);
    fs.writeFileSync(sys, 'Include ~/.ssh/extra.conf\n');
    try {
      const ctx = { ...contextFor('/nonexistent/user-config', {}), files: ['/nonexistent/user-config', sys] };
      await expect(resolveSshConfig('x', ctx)).rejects.toThrow(/bad include path ~\/\.ssh\/extra\.conf/);
    } finally {
      fs.rmSync(sys, { force: true });
    }
  });

  it('an explicit config file must exist, and the word none reads nothing', async () => {
    await expect(resolveSshConfig('x', contextFor('/nonexistent/explicit.conf', {}))).rejects.toThrow(/Can't open user config file/);
    const r = await resolveSshConfig('x', contextFor('none', {}));
    expect([r.hostname, r.user, r.port]).toEqual(['x', me.username, 22]);
  });

  it('defaults to ~/.ssh/config then /etc/ssh/ssh_config, or only the given file', () => {
    const implicit = defaultSshConfigContext();
    if (!process.env.SSH_CONFIG) expect(implicit.files).toEqual([path.join(me.homedir, '.ssh', 'config'), '/etc/ssh/ssh_config']);
    expect(implicit.localUser).toBe(me.username);
    expect(implicit.passwdHome).toBe(me.homedir);
    expect(defaultSshConfigContext('/srv/ssh_config').files).toEqual(['/srv/ssh_config']);
  });

  it('refuses command-line names that could smuggle shell syntax', async () => {
    const ctx = contextFor(path.join(FIXTURES, 'empty.conf'), {});
    await expect(resolveSshConfig('a;b', ctx)).rejects.toThrow(/hostname contains invalid characters/);
    await expect(resolveSshConfig('x', { ...ctx, user: '-oProxyCommand=x' })).rejects.toThrow(/username contains invalid characters/);
  });

  it('runs Match exec through ctx.exec with the tokens expanded', async () => {
    const seen: string[] = [];
    const ctx = { ...contextFor(path.join(FIXTURES, 'match-exec.conf'), {}), exec: async (cmd: string) => (seen.push(cmd), cmd.includes('present')) };
    const r = await resolveSshConfig('host', ctx);
    expect(r.user).toBe('present');
    expect(seen).toEqual(['test -e $SSHCFG_DIR/absent', 'test -e $SSHCFG_DIR/present', 'test -e $SSHCFG_DIR/absent']);
  });
});

describe('parseJumpHop', () => {
  it.each([
    ['host', { host: 'host' }],
    ['user@host', { user: 'user', host: 'host' }],
    ['user@host:2222', { user: 'user', host: 'host', port: 2222 }],
    ['a@b@host', { user: 'a@b', host: 'host' }],
    ['[2001:db8::1]:23', { host: '2001:db8::1', port: 23 }],
    ['user@[::1]', { user: 'user', host: '::1' }],
    ['host:ssh', { host: 'host', port: 22 }],
    ['ssh://host', { host: 'host' }],
    ['ssh://al%40x@jump.example:2222', { user: 'al@x', host: 'jump.example', port: 2222 }],
    ['ssh://u;fingerprint=abc@h/', { user: 'u', host: 'h' }],
  ])('parses %s', (spec, expected) => {
    expect(parseJumpHop(spec)).toEqual(expected);
  });

  it.each(['', '@host', 'host:0', 'host:99999', 'ssh://h/path', 'ssh://[::1]', 'ssh://-h', 'SSH://h', '[::1'])('rejects %j', (spec) => {
    expect(() => parseJumpHop(spec)).toThrow(SshConfigError);
  });
});
