/**
 * Which of a VM's limits this engine can enforce, read from `docker.info()` before any create
 * so the create dialog can say so and the create does not fail on an option the engine refuses.
 *
 * Disk size heuristic: `StorageOpt.size` is accepted by overlay2 only when its backing
 * filesystem is xfs mounted with `pquota` (measured: on ext4 the create is refused with HTTP 500
 * "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"). `info`
 * shows the backing filesystem (`DriverStatus` "Backing Filesystem") but not the mount options,
 * so on overlay2 over xfs the size is attempted and a refusal (isStorageOptRefusal) falls back
 * to no size, reported as not enforced. Other drivers (btrfs, zfs, devicemapper) have size
 * options of their own with different semantics; they were not measured, so they are reported
 * as not enforced rather than guessed at.
 */

/** The part of `GET /info` read here. */
export interface EngineInfo {
  Driver?: string;
  DriverStatus?: [string, string][] | null;
  MemoryLimit?: boolean;
  SwapLimit?: boolean;
  PidsLimit?: boolean;
  CpuCfsQuota?: boolean;
}

export interface EngineLimits {
  /** Whether to pass `StorageOpt: { size }` at create. */
  diskSize: boolean;
  /** Plain sentences, e.g. "disk size not enforced: overlay2 on extfs". */
  notEnforced: string[];
}

export function backingFilesystem(info: EngineInfo): string | null {
  const row = (info.DriverStatus ?? []).find(([key]) => key === 'Backing Filesystem');
  return row?.[1] ?? null;
}

export function engineLimits(info: EngineInfo): EngineLimits {
  const notEnforced: string[] = [];
  const driver = info.Driver || 'unknown storage driver';
  const backing = backingFilesystem(info);
  const diskSize = driver === 'overlay2' && backing === 'xfs';
  if (!diskSize) notEnforced.push(`disk size not enforced: ${driver}${backing ? ` on ${backing}` : ''}`);
  // These are false when the kernel lacks the cgroup controller; the engine then accepts the
  // setting with a warning and ignores it.
  if (info.CpuCfsQuota === false) notEnforced.push('vCPU limit not enforced: the kernel has no CFS quota support');
  if (info.MemoryLimit === false) notEnforced.push('memory limit not enforced: the kernel has no memory cgroup');
  else if (info.SwapLimit === false) notEnforced.push('swap not limited: swap accounting is off in the kernel');
  if (info.PidsLimit === false) notEnforced.push('process limit not enforced: the kernel has no pids cgroup');
  return { diskSize, notEnforced };
}

/** The engine refused `StorageOpt.size` (overlay2 over xfs mounted without pquota, for one). */
export function isStorageOptRefusal(message: string): boolean {
  return /storage-opt|pquota|storage option/i.test(message);
}

export const DISK_WITHOUT_PQUOTA = 'disk size not enforced: overlay2 on xfs without the pquota mount option';
