import { describe, expect, it } from 'vitest';
import type { OvhFlavor, OvhImage, OvhInstance } from '../../server/providers/ovh/ovh-api.types.ts';
import { engineState, pickFlavor, pickImage, publicIpv4, sameSshKey, survivor } from '../../server/providers/ovh/ovh-selection.ts';

const flavor = (name: string, vcpus: number, ram: number, disk: number, extra: Partial<OvhFlavor> = {}): OvhFlavor => ({
  id: name, name, region: 'GRA11', vcpus, ram, disk, osType: 'linux', available: true, ...extra,
});
const flavors = [
  flavor('b2-15', 4, 15000, 100),
  flavor('d2-2', 1, 2000, 25),
  flavor('b2-7', 2, 7000, 50),
  flavor('s1-8', 2, 8000, 40),
  flavor('d2-4', 2, 4000, 50),
  flavor('win-2', 1, 2000, 50, { osType: 'windows' }),
  flavor('gone-1', 1, 1000, 10, { available: false }),
  flavor('sbg-1', 1, 1000, 10, { region: 'SBG5' }),
];

describe('pickFlavor', () => {
  it.each([
    [1, 1000, 'd2-2'],
    [1, 2000, 'd2-2'],
    [1, 2048, 'd2-4'],
    [2, 6000, 'b2-7'],
    [2, 7001, 's1-8'],
    [3, 1000, 'b2-15'],
  ])('%i vCPU / %i MB → %s', (vcpus, memoryMb, name) => {
    const choice = pickFlavor(flavors, 'GRA11', { vcpus, memoryMb });
    expect(choice.ok && choice.flavor.name).toBe(name);
  });

  it('skips flavors too small for the image disk', () => {
    const choice = pickFlavor(flavors, 'GRA11', { vcpus: 1, memoryMb: 1000, minDiskGb: 30 });
    expect(choice.ok && choice.flavor.name).toBe('d2-4');
  });

  it('says plainly when nothing fits, naming the largest there is', () => {
    const choice = pickFlavor(flavors, 'GRA11', { vcpus: 16, memoryMb: 1000 });
    expect(choice.ok).toBe(false);
    if (!choice.ok) expect(choice.reason).toMatch(/^no flavor fits 16 vCPU \/ 1000 MB in region GRA11 \(largest available: b2-15/);
  });
});

describe('pickImage', () => {
  const images: OvhImage[] = [
    { id: 'i1', name: 'Debian 12', region: 'SBG5', status: 'active' },
    { id: 'i2', name: 'Debian 12', region: 'GRA11', status: 'deprecated' },
    { id: 'i3', name: 'Debian 12', region: 'GRA11', status: 'active' },
    { id: 'i4', name: 'Ubuntu 24.04', region: 'GRA11', status: 'active' },
  ];
  it('takes the active image of that name in the region', () => {
    const choice = pickImage(images, 'GRA11', 'debian 12');
    expect(choice.ok && choice.image.id).toBe('i3');
  });
  it('lists what exists when the name is unknown', () => {
    const choice = pickImage(images, 'GRA11', 'Arch');
    expect(!choice.ok && choice.reason).toBe('no image named "Arch" in region GRA11 (available: Debian 12, Ubuntu 24.04)');
  });
});

describe('instances', () => {
  const instance = (id: string, created: string, status = 'ACTIVE'): OvhInstance => ({
    id, name: 'vmo-1', status, flavorId: 'f', imageId: 'i', region: 'GRA11', created,
    ipAddresses: [
      { ip: '2001:db8::1', type: 'public', version: 6 },
      { ip: '10.0.0.2', type: 'private', version: 4 },
      { ip: '203.0.113.5', type: 'public', version: 4 },
    ],
  });

  it('reads the public IPv4 address only', () => {
    expect(publicIpv4(instance('a', '2025-01-01T00:00:00Z'))).toBe('203.0.113.5');
    expect(publicIpv4({ ...instance('a', '2025-01-01T00:00:00Z'), ipAddresses: [] })).toBeNull();
  });

  it('keeps the oldest of duplicates, ties broken by id, ignoring deleted ones', () => {
    const list = [instance('b', '2025-01-01T00:00:01Z'), instance('c', '2025-01-01T00:00:00Z'), instance('a', '2025-01-01T00:00:00Z', 'DELETED')];
    expect(survivor(list)?.id).toBe('c');
    expect(survivor([instance('z', '2025-01-01T00:00:00Z'), instance('y', '2025-01-01T00:00:00Z')])?.id).toBe('y');
  });

  it.each([
    ['ACTIVE', 'running'], ['BUILD', 'creating'], ['REBOOT', 'creating'], ['SHUTOFF', 'stopped'],
    ['SHELVED_OFFLOADED', 'stopped'], ['ERROR', 'error'], ['DELETED', 'missing'], ['DELETING', 'missing'],
  ])('maps OVH status %s to %s', (status, state) => {
    expect(engineState(status)).toBe(state);
  });

  it('compares SSH keys without their comments', () => {
    expect(sameSshKey('ssh-ed25519 AAAA one@x', ' ssh-ed25519 AAAA other')).toBe(true);
    expect(sameSshKey('ssh-ed25519 AAAA', 'ssh-ed25519 AAAB')).toBe(false);
  });
});
