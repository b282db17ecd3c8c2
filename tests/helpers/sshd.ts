/**
 * A real OpenSSH server for integration tests: Debian's /usr/sbin/sshd on a loopback port,
 * with throwaway host keys and an authorized client key in a temporary directory.
 *
 * A jump host and the servers behind it:
 *
 *   const jump = await startSshd({ jumpHost: true });
 *   const target = await startSshd({ behind: jump, clientKey: jump.clientKey });
 *   // ssh -J root@127.0.0.1:<jump.port> root@127.0.0.1 -p <target.port>
 *
 * The jump host owns a private network namespace. Its own listener stays in the test's
 * network (Node accepts on 127.0.0.1:jump.port) and runs `sshd -i` inside that namespace
 * for each connection, so whatever the jump host connects to (ProxyJump's direct-tcpip) is
 * reached from inside it. Servers started `behind` it listen on 127.0.0.1:port inside the
 * namespace only: nothing in the test's own network can reach them directly.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { allProcesses, descendantsOf, hasEnv, killQuietly, runsProgram, sleep, waitUntilGone, type Proc } from './proc-tree.ts';
import { requireTool } from './require-tool.ts';
import { makeClientKey, makeHostKey, removeClientKeys } from './ssh-test-keys.ts';
import { freePort } from '../../server/platform/free-port.ts';

const SSHD = '/usr/sbin/sshd';
const SETPRIV = '/usr/bin/setpriv';
const PRIVSEP_DIR = '/run/sshd';
const READY_TIMEOUT_MS = 15_000;
const run = promisify(execFile);
const ci = process.env.CI === 'true' || process.env.CI === '1';

export interface ClientKey {
  privateKeyPath: string;
  /** One-line OpenSSH public key. */
  publicKey: string;
}

export interface HostKey {
  /** Key type as ssh names it: ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256. */
  type: string;
  /** One-line OpenSSH public key. */
  publicKey: string;
  blob: Buffer;
  /** SHA256:… as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

export interface TestSshd {
  host: string;
  port: number;
  dir: string;
  hostKeys: HostKey[];
  /** A client key pair authorized on this server (ed25519, unencrypted) — and the same for every server started with the same `clientKey` option. */
  clientKey: ClientKey;
  /** With `encryptedClientKeyPassphrase`: a second authorized key, encrypted with that passphrase. */
  encryptedClientKey?: ClientKey & { passphrase: string };
  /** The local user; tests log in as it. */
  user: string;
  /** HOME of remote sessions: an empty directory inside `dir`, so the user's own dotfiles do not run. */
  home: string;
  /** For a server started `behind` a jump host: that jump host. */
  via?: TestSshd;
  /** known_hosts text trusting this server's host keys under `[host]:port` (types: ssh-rsa or rsa, …; default all). */
  knownHostsLine(types?: string[]): string;
  /** sshd's stderr log so far (LogLevel VERBOSE: connections, logins, sessions opening and closing). */
  log(): string;
  /**
   * Processes started through this server that are still running (sshd's own excluded):
   * descendants of its sshd processes, and processes whose environment carries this
   * server's marker, which also finds commands orphaned by a dropped connection.
   */
  remoteProcesses(match: RegExp): Array<{ pid: number; args: string }>;
  /** Kill every open connection's sshd processes (no SSH disconnect, as on a dropped network) but keep listening. */
  dropConnections(): Promise<void>;
  /** Kill everything started through this server, then the server, and remove its directory. */
  stop(): Promise<void>;
}

export interface StartSshdOptions {
  /** Default ['ed25519', 'rsa']. */
  hostKeyTypes?: Array<'ed25519' | 'rsa' | 'ecdsa'>;
  /** Authorize this key pair instead of generating one. */
  clientKey?: ClientKey;
  /** Also generate and authorize a client key encrypted with this passphrase (`encryptedClientKey`). */
  encryptedClientKeyPassphrase?: string;
  /** Make this a jump host with a private network namespace for servers started `behind` it (see the top of this file). */
  jumpHost?: boolean;
  /** Run this server inside that jump host's namespace, reachable only through it. */
  behind?: TestSshd;
  /**
   * More sshd_config. sshd keeps the first value it reads for most keywords, so lines before
   * any `Match` go in front of the harness's settings (and override them); a `Match` block
   * goes at the end.
   */
  extraConfig?: string;
}

// ---------------------------------------------------------------------------------------
// Availability

/** True when sshd can be used here; under CI a missing sshd throws (the suite must fail). */
export function sshdAvailable(): boolean {
  if (!fs.existsSync(SSHD)) {
    if (ci) throw new Error('sshd is not installed (apt-get install openssh-server)');
    console.warn('SKIP: sshd not installed (apt-get install openssh-server)');
    return false;
  }
  return requireTool('ssh-keygen', 'openssh-client') && requireTool('ssh', 'openssh-client');
}

let namespacesWork: boolean | undefined;

/** True when network namespaces can be made here (root, unshare and nsenter); under CI their absence throws. */
export function networkNamespacesAvailable(): boolean {
  if (namespacesWork === undefined) {
    const probe = spawnSync('unshare', ['-n', '--', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
    namespacesWork = probe.status === 0 && requireTool('nsenter', 'util-linux');
  }
  if (!namespacesWork) {
    const why = 'network namespaces are not available (needs root, util-linux and iproute2)';
    if (ci) throw new Error(why);
    console.warn(`SKIP: ${why}`);
  }
  return namespacesWork;
}


// ---------------------------------------------------------------------------------------
// Configuration

function sshdConfig(o: { dir: string; home: string; listen: string | null; hostKeyPaths: string[]; marker: string; extra?: string }): string {
  const extra = o.extra ?? '';
  const matchAt = extra.search(/^[ \t]*Match\s/im);
  const overrides = matchAt === -1 ? extra : extra.slice(0, matchAt);
  const matchBlocks = matchAt === -1 ? '' : extra.slice(matchAt);
  return [
    overrides,
    o.listen ? `ListenAddress ${o.listen}` : '',
    'PidFile none',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    `AuthorizedKeysFile ${path.join(o.dir, 'authorized_keys')}`,
    'StrictModes no',
    ...o.hostKeyPaths.map((p) => `HostKey ${p}`),
    'AllowTcpForwarding yes',
    'MaxSessions 10',
    'LogLevel VERBOSE',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    'Subsystem sftp internal-sftp',
    // Every process a session starts inherits the marker, so remoteProcesses() finds orphans
    // too. A home of its own keeps the machine user's dotfiles (slow or locking shell startup)
    // out of remote commands.
    `SetEnv ${o.marker} HOME=${o.home}`,
    matchBlocks,
    '',
  ].join('\n');
}

/**
 * Runs a command so that it dies with this process even on SIGKILL (the parent-death
 * signal survives exec), as a backstop to the exit hook.
 */
function spawnTied(cmd: string, args: string[], stdio: Parameters<typeof spawn>[2]['stdio']): ChildProcess {
  if (fs.existsSync(SETPRIV)) return spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args], { stdio });
  return spawn(cmd, args, { stdio });
}

// ---------------------------------------------------------------------------------------
// Readiness

/** Reads the start of the SSH banner from 127.0.0.1:port, inside a network namespace when given. */
async function readBanner(port: number, netnsPid?: number): Promise<boolean> {
  if (netnsPid !== undefined) {
    const script = `exec 3<>/dev/tcp/127.0.0.1/${port} && head -c 4 <&3`;
    try {
      const { stdout } = await run('nsenter', ['-t', String(netnsPid), '-n', '--', 'bash', '-c', script], { timeout: 3000 });
      return stdout === 'SSH-';
    } catch {
      return false;
    }
  }
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(3000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.length >= 4) done(got.startsWith('SSH-'));
    });
    sock.on('end', () => done(false));
  });
}

async function waitForBanner(port: number, child: ChildProcess | null, log: () => string, netnsPid?: number) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}) before listening:\n${log()}`);
    if (await readBanner(port, netnsPid)) return;
    if (Date.now() > deadline) throw new Error(`sshd did not answer on port ${port}:\n${log()}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------
// Cleanup at exit

/** Synchronous teardown of each running server, for the exit hook. */
const running = new Set<() => void>();

function stopEverything() {
  for (const kill of running) kill();
  running.clear();
  removeClientKeys();
}

process.on('exit', stopEverything);
// Test runners end their workers with a signal, which skips 'exit': clean up, then let the
// signal do what it would have done (unless someone else handles it).
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    stopEverything();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

/** The private namespace of each jump host: a holder process that keeps it alive. */
const jumpNamespaces = new WeakMap<TestSshd, { holderPid: number }>();

/** Starts a process that owns a new network namespace with loopback up; resolves when it is ready. */
async function startNamespaceHolder(): Promise<ChildProcess> {
  // `cat` keeps the namespace alive and ends when our end of its stdin closes.
  const holder = spawnTied('unshare', ['-n', '--', 'sh', '-c', 'ip link set lo up && echo ready && exec cat'], ['pipe', 'pipe', 'pipe']);
  let err = '';
  holder.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`could not create a network namespace (${code}): ${err}`)));
  });
  return holder;
}

// ---------------------------------------------------------------------------------------
// The server

const SHORT_TYPE_NAMES: Record<string, string> = { ed25519: 'ssh-ed25519', rsa: 'ssh-rsa', ecdsa: 'ecdsa-sha2-nistp256' };

export async function startSshd(opts: StartSshdOptions = {}): Promise<TestSshd> {
  if (!fs.existsSync(SSHD)) throw new Error('sshd is not installed (apt-get install openssh-server)');
  if (opts.jumpHost && opts.behind) throw new Error('a jump host cannot itself be behind another');
  const jumpNamespace = opts.behind ? jumpNamespaces.get(opts.behind) : undefined;
  if (opts.behind && !jumpNamespace) throw new Error('`behind` needs a server started with { jumpHost: true }');
  try {
    // sshd refuses to start without its privilege separation directory.
    fs.mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  } catch {
    // not root: sshd says what is missing if it needs it
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-sshd-'));
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  const marker = `VMO_TEST_SSHD=${randomBytes(6).toString('hex')}`;
  let logText = '';
  const appendLog = (d: Buffer) => (logText += d.toString('utf8'));
  const log = () => logText;

  let listener: ChildProcess | null = null; // sshd -D, unless this is a jump host
  let jumpServer: net.Server | null = null; // a jump host's own listener
  let holder: ChildProcess | null = null; // keeps a jump host's namespace alive
  const inetdChildren = new Set<ChildProcess>(); // a jump host's `sshd -i`, one per connection

  const rootPids = () => [listener, ...inetdChildren].map((c) => c?.pid).filter((p): p is number => p !== undefined && p !== null);
  const startedThrough = (): Proc[] => {
    const procs = allProcesses();
    const byPid = new Map(descendantsOf(rootPids(), procs).map((p) => [p.pid, p]));
    for (const p of procs) if (!byPid.has(p.pid) && hasEnv(p.pid, marker)) byPid.set(p.pid, p);
    return [...byPid.values()];
  };
  const killAll = () => {
    jumpServer?.close();
    for (const p of startedThrough()) killQuietly(p.pid);
    for (const pid of rootPids()) killQuietly(pid);
    if (holder?.pid) killQuietly(holder.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  running.add(killAll);

  try {
    const hostKeys = await Promise.all((opts.hostKeyTypes ?? ['ed25519', 'rsa']).map((kind) => makeHostKey(dir, kind)));
    const clientKey = opts.clientKey ?? (await makeClientKey());
    const passphrase = opts.encryptedClientKeyPassphrase;
    const encryptedClientKey = passphrase === undefined ? undefined : { ...(await makeClientKey(passphrase)), passphrase };
    const authorized = [clientKey.publicKey, encryptedClientKey?.publicKey].filter(Boolean);
    fs.writeFileSync(path.join(dir, 'authorized_keys'), authorized.join('\n') + '\n');
    const configPath = path.join(dir, 'sshd_config');
    const writeConfig = (listen: string | null) =>
      fs.writeFileSync(configPath, sshdConfig({ dir, home, listen, hostKeyPaths: hostKeys.map((k) => k.path), marker, extra: opts.extraConfig }));

    async function startListening(): Promise<number> {
      for (let attempt = 1; ; attempt++) {
        // Behind a jump host any port is free, but one free here too makes a direct attempt fail plainly.
        const candidate = await freePort();
        writeConfig(`127.0.0.1:${candidate}`);
        const sshdArgs = [SSHD, '-D', '-e', '-f', configPath];
        listener = jumpNamespace
          ? spawnTied('nsenter', ['-t', String(jumpNamespace.holderPid), '-n', '--', ...sshdArgs], ['ignore', 'ignore', 'pipe'])
          : spawnTied(sshdArgs[0], sshdArgs.slice(1), ['ignore', 'ignore', 'pipe']);
        listener.stderr!.on('data', appendLog);
        try {
          await waitForBanner(candidate, listener, log, jumpNamespace?.holderPid);
          return candidate;
        } catch (e) {
          // Another process may have taken the port between freePort() and sshd's bind.
          if (attempt >= 3 || !/Bind to port|Cannot bind any address/.test(log())) throw e;
          killQuietly(listener.pid!);
        }
      }
    }

    let port: number;
    if (opts.jumpHost) {
      holder = await startNamespaceHolder();
      const holderPid = holder.pid!;
      writeConfig(null);
      jumpServer = net.createServer({ pauseOnConnect: true }, (socket) => {
        // inetd mode: this sshd speaks SSH on the socket, from inside the private namespace.
        const child = spawnTied('nsenter', ['-t', String(holderPid), '-n', '--', SSHD, '-i', '-e', '-f', configPath], [socket, socket, 'pipe']);
        inetdChildren.add(child);
        child.stderr!.on('data', appendLog);
        child.once('exit', () => inetdChildren.delete(child));
        child.once('error', (e) => appendLog(Buffer.from(`cannot start sshd -i: ${e.message}\n`)));
        // The child has its own copy of the socket; ours must not read from it or keep it open.
        socket.destroy();
      });
      port = await new Promise<number>((resolve, reject) => {
        jumpServer!.once('error', reject);
        jumpServer!.listen(0, '127.0.0.1', () => resolve((jumpServer!.address() as net.AddressInfo).port));
      });
      await waitForBanner(port, null, log);
    } else {
      port = await startListening();
    }

    const host = '127.0.0.1';
    const lookupName = `[${host}]:${port}`;
    const server: TestSshd = {
      host,
      port,
      dir,
      hostKeys: hostKeys.map((k) => k.key),
      clientKey,
      encryptedClientKey,
      user: os.userInfo().username,
      home,
      via: opts.behind,
      knownHostsLine(types) {
        const wanted = types?.map((t) => SHORT_TYPE_NAMES[t] ?? t);
        return hostKeys
          .map((k) => k.key)
          .filter((k) => !wanted || wanted.includes(k.type))
          .map((k) => `${lookupName} ${k.publicKey}\n`)
          .join('');
      },
      log,
      remoteProcesses(match) {
        return startedThrough()
          .filter((p) => !runsProgram(p.pid, SSHD) && p.args.search(match) !== -1)
          .map(({ pid, args }) => ({ pid, args }));
      },
      async dropConnections() {
        // A connection is served by sshd processes only: below the listener, or a jump host's `sshd -i`.
        const sessionSshds = descendantsOf(rootPids(), allProcesses()).filter((p) => runsProgram(p.pid, SSHD)).map((p) => p.pid);
        const doomed = [...rootPids().filter((pid) => pid !== listener?.pid), ...sessionSshds];
        for (const pid of doomed) killQuietly(pid);
        await waitUntilGone(doomed);
      },
      async stop() {
        running.delete(killAll);
        const waits = [listener, holder, ...inetdChildren]
          .filter((c): c is ChildProcess => c !== null && c.exitCode === null && c.signalCode === null)
          .map((c) => new Promise((resolve) => c.once('exit', resolve)));
        const everything = startedThrough().map((p) => p.pid);
        killAll();
        await Promise.all(waits);
        await waitUntilGone(everything);
      },
    };
    if (holder) jumpNamespaces.set(server, { holderPid: holder.pid! });
    return server;
  } catch (e) {
    running.delete(killAll);
    killAll();
    throw e;
  }
}
