/** What a VM size costs, in whole credits: RAM_MB/512 × 5 + DISK_GB/10 × 2 + vCPUs × 10, at least 10. */
export interface VmSize {
  vcpus: number;
  memoryMb: number;
  diskGb: number;
}

export const MINIMUM_COST = 10;

/** Fractions (768 MB, 15 GB) round the total up: credits are integers and never undercharge. */
export function vmCost(s: VmSize): number {
  const exact = (s.memoryMb / 512) * 5 + (s.diskGb / 10) * 2 + s.vcpus * 10;
  return Math.max(MINIMUM_COST, Math.ceil(exact - 1e-9));
}
