import { TIER_NAMES, type QuotaLimits } from '../../src/lib/shared/credits.ts';

export type TierName = (typeof TIER_NAMES)[number];

/**
 * Tiers and their limits. A user's limits are their tier's, with any per-user override an
 * administrator set in its place (null = no limit). VM and disk limits count every VM that
 * exists (a stopped or failed VM still holds its disk); running, vCPU and memory limits count
 * VMs that can be running (requested, provisioning, starting, running, stopping).
 */
export const TIERS: Record<TierName, QuotaLimits> = {
  free: { maxVms: 1, maxRunning: 1, vcpus: 2, memoryMb: 4096, diskGb: 10, lifetimeHours: 24, autoStopMinutes: 60 },
  pro: { maxVms: 3, maxRunning: 3, vcpus: 4, memoryMb: 8192, diskGb: 50, lifetimeHours: null, autoStopMinutes: null },
  unlimited: { maxVms: null, maxRunning: null, vcpus: 8, memoryMb: 16384, diskGb: 100, lifetimeHours: null, autoStopMinutes: null },
};

export { TIER_NAMES, type QuotaLimits };

export const LIMIT_NAMES = Object.keys(TIERS.free) as Array<keyof QuotaLimits>;

export function limitsFor(tier: string, overrides: Partial<Record<keyof QuotaLimits, number | null>> = {}): QuotaLimits {
  const base = TIERS[tier as TierName] ?? TIERS.free;
  const out = { ...base };
  for (const name of LIMIT_NAMES) if (name in overrides) out[name] = overrides[name] ?? null;
  return out;
}
