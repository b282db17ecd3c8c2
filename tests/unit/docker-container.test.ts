import { spawnSync } from 'node:child_process';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { authorizedKeysArchive, assertPublicKeyLine, findAccount } from '../../server/providers/docker/container-login.ts';
import { demuxLogBuffer } from '../../server/providers/docker/container-logs.ts';
import { containerName, managedLabelFilter, sanitizeVmName } from '../../server/providers/docker/container-naming.ts';
import { hostKeyFingerprint, parsePublicKeyLines } from '../../server/providers/docker/container-ssh.ts';
import { publishedSshPort, toProviderVm, type ContainerFacts } from '../../server/providers/docker/container-state.ts';
import { engineLimits, isStorageOptRefusal } from '../../server/providers/docker/docker-storage.ts';
import { tarArchive } from '../../server/providers/docker/tar-archive.ts';

const { utils } = ssh2;

describe('container names', () => {
  it.each([
    ['Root VM ✓', 'root-vm'],
    ['Élan  vital', 'elan-vital'],
    ['--x--', 'x'],
    ['日本', 'vm'],
    ['a'.repeat(40), 'a'.repeat(30)],
    ['abcdefghijklmnopqrstuvwxyz123-and-more', 'abcdefghijklmnopqrstuvwxyz123'],
  ])('%s → %s (a DNS label)', (name, sanitized) => {
    expect(sanitizeVmName(name)).toBe(sanitized);
    expect(sanitized).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  });

  it('puts the first 12 hex digits of the VM id in the container name', () => {
    expect(containerName('3F2504E0-4F89-11D3-9A0C-0305E82C3301', 'My VM')).toBe('vmo-3f2504e04f89-my-vm');
  });

  it('scopes the managed list to one console when it has an id', () => {
    expect(managedLabelFilter()).toEqual({ label: ['vm-orchestrator.vm'] });
    expect(managedLabelFilter('c1')).toEqual({ label: ['vm-orchestrator.vm', 'vm-orchestrator.console=c1'] });
  });
});

describe('engineLimits', () => {
  const status = (fs: string): [string, string][] => [['Backing Filesystem', fs], ['Supports d_type', 'true']];
  const all = { MemoryLimit: true, SwapLimit: true, PidsLimit: true, CpuCfsQuota: true };

  it('says the disk size is not enforced on overlay2 over ext4 (this machine)', () => {
    expect(engineLimits({ Driver: 'overlay2', DriverStatus: status('extfs'), ...all })).toEqual({
      diskSize: false,
      notEnforced: ['disk size not enforced: overlay2 on extfs'],
    });
  });

  it('attempts a disk size on overlay2 over xfs', () => {
    expect(engineLimits({ Driver: 'overlay2', DriverStatus: status('xfs'), ...all })).toEqual({ diskSize: true, notEnforced: [] });
  });

  it('reports other drivers, and cgroup controllers the kernel lacks', () => {
    const limits = engineLimits({ Driver: 'btrfs', DriverStatus: [], MemoryLimit: true, SwapLimit: false, PidsLimit: false, CpuCfsQuota: true });
    expect(limits.diskSize).toBe(false);
    expect(limits.notEnforced).toEqual([
      'disk size not enforced: btrfs',
      'swap not limited: swap accounting is off in the kernel',
      'process limit not enforced: the kernel has no pids cgroup',
    ]);
  });

  it('recognizes the engine refusing a size at create', () => {
    expect(isStorageOptRefusal("--storage-opt is supported only for overlay over xfs with 'pquota' mount option")).toBe(true);
    expect(isStorageOptRefusal('No such image: x')).toBe(false);
  });
});

describe('toProviderVm', () => {
  const facts = (state: Partial<ContainerFacts['State']>, ports: Record<string, { HostIp: string; HostPort: string }[]> = {}): ContainerFacts => ({
    Id: 'c'.repeat(64),
    State: { Status: 'running', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: '', FinishedAt: '', ...state },
    NetworkSettings: { Ports: ports } as ContainerFacts['NetworkSettings'],
    HostConfig: { Memory: 256 * 2 ** 20 },
  });
  const published = { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '32771' }] };

  it.each([
    ['running with its port', { Status: 'running', Running: true }, published, { state: 'running', host: '127.0.0.1', sshPort: 32771 }],
    ['running without a port', { Status: 'running', Running: true }, {}, { state: 'error', host: null, detail: 'running, but port 22 is not published on 127.0.0.1' }],
    ['stopped by the console', { Status: 'exited', ExitCode: 0 }, {}, { state: 'stopped', host: null, sshPort: null }],
    ['exited on its own', { Status: 'exited', ExitCode: 255 }, {}, { state: 'stopped', detail: 'exited with code 255' }],
    ['created, never started', { Status: 'created' }, {}, { state: 'stopped' }],
    ['killed for memory', { Status: 'exited', OOMKilled: true, ExitCode: 137 }, {}, { state: 'error', detail: expect.stringContaining('out of memory (limit 256 MB)') }],
    ['dead', { Status: 'dead', Dead: true }, {}, { state: 'error', detail: 'container is dead' }],
    ['paused', { Status: 'paused', Running: true, Paused: true }, published, { state: 'error', sshPort: null }],
    ['being removed', { Status: 'removing' }, {}, { state: 'missing' }],
  ])('%s', (_what, state, ports, expected) => {
    const vm = toProviderVm('vm-1', facts(state, ports));
    expect(vm).toMatchObject({ vmId: 'vm-1', providerId: 'c'.repeat(64), ...expected });
    if (expected.state === 'stopped' && !('detail' in expected)) expect(vm.detail).toBeUndefined();
  });

  it('reads the loopback binding of 22/tcp', () => {
    expect(publishedSshPort({ NetworkSettings: { Ports: { '22/tcp': [{ HostIp: '0.0.0.0', HostPort: '1' }, { HostIp: '127.0.0.1', HostPort: '2' }] } } as any })).toBe(2);
    expect(publishedSshPort({ NetworkSettings: { Ports: {} } as any })).toBeNull();
  });
});

describe('host keys', () => {
  it('keeps type and base64 of each key line, dropping comments and anything else', () => {
    const text = 'ssh-ed25519 AAAAC3Nza root@box\nnot a key\n\necdsa-sha2-nistp256 AAAAE2Vj= \r\ncat: /etc/ssh/ssh_host_rsa_key.pub: No such file\n';
    expect(parsePublicKeyLines(text)).toEqual(['ssh-ed25519 AAAAC3Nza', 'ecdsa-sha2-nistp256 AAAAE2Vj=']);
  });

  it('fingerprints a key as ssh-keygen -l does', () => {
    const { public: pub } = utils.generateKeyPairSync('ed25519');
    const r = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', '-'], { input: `${pub}\n`, encoding: 'utf8' });
    if (r.error) return; // ssh-keygen absent: covered where the sshd suites run
    expect(r.stdout.split(' ')[1]).toBe(hostKeyFingerprint(pub));
  });
});

describe('login files', () => {
  it('finds an account in /etc/passwd', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\ndev:x:1000:1000::/home/dev:/bin/bash\nbroken:x:zz:1::/x:/bin/sh\n';
    expect(findAccount(passwd, 'dev')).toEqual({ uid: 1000, gid: 1000, home: '/home/dev' });
    expect(findAccount(passwd, 'root')).toEqual({ uid: 0, gid: 0, home: '/root' });
    expect(findAccount(passwd, 'broken')).toBeNull();
    expect(findAccount(passwd, 'nobody')).toBeNull();
  });

  it('accepts one public key line and refuses a second one smuggled in', () => {
    const { public: pub } = utils.generateKeyPairSync('ed25519');
    expect(assertPublicKeyLine(`${pub} me@laptop\n`)).toBe(`${pub} me@laptop`);
    expect(() => assertPublicKeyLine(`${pub}\ncommand="sh" ${pub}`)).toThrow(/one OpenSSH public key line/);
    expect(() => assertPublicKeyLine('-----BEGIN OPENSSH PRIVATE KEY-----')).toThrow();
  });

  it('writes .ssh (0700) and authorized_keys (0600) owned by the account, readable by tar', () => {
    const archive = authorizedKeysArchive({ uid: 1000, gid: 1001, home: '/home/dev' }, 'ssh-ed25519 AAAA\n');
    expect(archive.length % 512).toBe(0);
    const list = spawnSync('tar', ['-tv', '--numeric-owner', '-f', '-'], { input: archive, encoding: 'utf8' });
    if (list.error) return;
    const rows = list.stdout.trim().split('\n').map((l) => l.split(/\s+/));
    expect(rows.map((r) => [r[0], r[1], r.at(-1)])).toEqual([
      ['drwx------', '1000/1001', 'home/dev/.ssh/'],
      ['-rw-------', '1000/1001', 'home/dev/.ssh/authorized_keys'],
    ]);
    const content = spawnSync('tar', ['-xO', '-f', '-', 'home/dev/.ssh/authorized_keys'], { input: archive, encoding: 'utf8' });
    expect(content.stdout).toBe('ssh-ed25519 AAAA\n');
  });

  it('refuses absolute and climbing tar paths', () => {
    expect(() => tarArchive([{ path: '/etc/passwd', type: 'file', mode: 0o644, uid: 0, gid: 0 }])).toThrow();
    expect(() => tarArchive([{ path: 'a/../../etc', type: 'dir', mode: 0o755, uid: 0, gid: 0 }])).toThrow();
  });
});

describe('demuxLogBuffer', () => {
  const frame = (type: number, text: string) => {
    const body = Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = type;
    head.writeUInt32BE(body.length, 4);
    return Buffer.concat([head, body]);
  };

  it('joins stdout and stderr frames in order', () => {
    expect(demuxLogBuffer(Buffer.concat([frame(2, 'Server listening\n'), frame(1, 'out\n'), frame(2, 'Accepted publickey\n')]))).toBe('Server listening\nout\nAccepted publickey\n');
  });

  it('passes a TTY log through', () => {
    expect(demuxLogBuffer(Buffer.from('plain text log\n'))).toBe('plain text log\n');
  });
});
