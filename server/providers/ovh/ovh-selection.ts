import type { ProviderVmState } from '../provider.ts';
import type { OvhFlavor, OvhImage, OvhInstance, OvhInstanceStatus } from './ovh-api.types.ts';

/**
 * Pure choices the OVH provider makes from what the API lists: which flavor, which image,
 * which address, and what an OVH status means to the VM engine.
 */

export interface SizeRequest {
  vcpus: number;
  memoryMb: number;
  /** The image's minimum root disk; a flavor with less cannot boot it. */
  minDiskGb?: number;
}

export type FlavorChoice = { ok: true; flavor: OvhFlavor } | { ok: false; reason: string };

/**
 * The smallest flavor in `region` with at least the requested vCPUs and memory: fewest vCPUs
 * first, then least memory, then least disk, then name, so the choice is stable. Never a
 * smaller one: OVH counts GB as 1000 MB, so a 2048 MB request does not fit a "2 GB" flavor.
 */
export function pickFlavor(flavors: OvhFlavor[], region: string, want: SizeRequest): FlavorChoice {
  const usable = flavors.filter(
    (f) => f.region === region && f.available !== false && (f.osType ?? 'linux') === 'linux',
  );
  const fitting = usable
    .filter((f) => f.vcpus >= want.vcpus && f.ram >= want.memoryMb && f.disk >= (want.minDiskGb ?? 0))
    .sort((a, b) => a.vcpus - b.vcpus || a.ram - b.ram || a.disk - b.disk || a.name.localeCompare(b.name));
  if (fitting[0]) return { ok: true, flavor: fitting[0] };
  const wanted = `${want.vcpus} vCPU / ${want.memoryMb} MB${want.minDiskGb ? ` / ${want.minDiskGb} GB disk` : ''}`;
  if (usable.length === 0) return { ok: false, reason: `no flavor fits ${wanted}: no flavor is available in region ${region}` };
  const largest = [...usable].sort((a, b) => b.vcpus - a.vcpus || b.ram - a.ram)[0]!;
  return {
    ok: false,
    reason: `no flavor fits ${wanted} in region ${region} (largest available: ${largest.name}, ${largest.vcpus} vCPU / ${largest.ram} MB / ${largest.disk} GB)`,
  };
}

export type ImageChoice = { ok: true; image: OvhImage } | { ok: false; reason: string };

/** The image named `name` (case-insensitive, exact) in `region`, preferring an active one. */
export function pickImage(images: OvhImage[], region: string, name: string): ImageChoice {
  const wanted = name.trim().toLowerCase();
  const inRegion = images.filter((i) => i.region === region);
  const named = inRegion.filter((i) => i.name.trim().toLowerCase() === wanted);
  const image = named.find((i) => (i.status ?? 'active') === 'active') ?? named[0];
  if (image) return { ok: true, image };
  const known = [...new Set(inRegion.map((i) => i.name))].sort().slice(0, 12).join(', ');
  return { ok: false, reason: `no image named "${name}" in region ${region}${known ? ` (available: ${known})` : ''}` };
}

/** The instance's public IPv4 address, once OVH has attached one. */
export function publicIpv4(instance: OvhInstance): string | null {
  return instance.ipAddresses?.find((a) => a.type === 'public' && a.version === 4)?.ip ?? null;
}

const STOPPED: ReadonlySet<string> = new Set(['SHUTOFF', 'STOPPED', 'SHELVED', 'SHELVED_OFFLOADED', 'SUSPENDED', 'PAUSED']);
const GONE: ReadonlySet<string> = new Set(['DELETED', 'DELETING', 'SOFT_DELETED']);

/**
 * What an OVH status means to the engine. Transitional statuses (BUILD, REBOOT, RESIZE …) map to
 * `creating`, the engine's only "not settled yet" state.
 */
export function engineState(status: OvhInstanceStatus): ProviderVmState {
  if (status === 'ACTIVE') return 'running';
  if (status === 'ERROR') return 'error';
  if (STOPPED.has(status)) return 'stopped';
  if (GONE.has(status)) return 'missing';
  return 'creating';
}

/**
 * Among instances sharing one name (two racing creates each made one), the one every racer
 * keeps: the oldest, ties broken by id, so all of them pick the same without talking.
 */
export function survivor(instances: OvhInstance[]): OvhInstance | null {
  const alive = instances.filter((i) => !GONE.has(i.status));
  alive.sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
  return alive[0] ?? null;
}

/** True when two OpenSSH public key lines are the same key (the comment may differ). */
export function sameSshKey(a: string, b: string): boolean {
  const body = (line: string) => line.trim().split(/\s+/).slice(0, 2).join(' ');
  return body(a) === body(b);
}
