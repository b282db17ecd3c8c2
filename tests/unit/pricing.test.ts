import { describe, expect, it } from 'vitest';
import { vmCost } from '../../server/credits/pricing.ts';
import { limitsFor, TIERS } from '../../server/credits/tiers.ts';

describe('VM pricing', () => {
  it('charges RAM_MB/512 × 5 + DISK_GB/10 × 2 + vCPUs × 10, at least 10 credits', () => {
    expect(vmCost({ vcpus: 2, memoryMb: 1024, diskGb: 20 })).toBe(34);
    expect(vmCost({ vcpus: 1, memoryMb: 512, diskGb: 10 })).toBe(17);
    expect(vmCost({ vcpus: 4, memoryMb: 8192, diskGb: 50 })).toBe(130);
    // Fractions round up: credits are integers and a VM is never undercharged.
    expect(vmCost({ vcpus: 1, memoryMb: 256, diskGb: 5 })).toBe(14);
  });

  it('never charges less than the minimum', () => {
    expect(vmCost({ vcpus: 0, memoryMb: 256, diskGb: 1 })).toBe(10);
  });
});

describe('tiers', () => {
  it('gives each tier its limits and lifecycle rules', () => {
    expect(TIERS.free).toEqual({ maxVms: 1, maxRunning: 1, vcpus: 2, memoryMb: 4096, diskGb: 10, lifetimeHours: 24, autoStopMinutes: 60 });
    expect(TIERS.pro).toMatchObject({ maxVms: 3, vcpus: 4, memoryMb: 8192, diskGb: 50, autoStopMinutes: null });
    expect(TIERS.unlimited).toMatchObject({ vcpus: 8, memoryMb: 16384, diskGb: 100 });
  });

  it('lets a per-user override replace a limit, null meaning no limit; an unknown tier is free', () => {
    expect(limitsFor('pro', { maxVms: 10, diskGb: null })).toMatchObject({ maxVms: 10, diskGb: null, vcpus: 4 });
    expect(limitsFor('gold')).toEqual(TIERS.free);
  });
});
