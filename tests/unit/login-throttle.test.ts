import { describe, expect, it } from 'vitest';
import { lockSecondsAfter } from '../../server/platform/auth/login-throttle.ts';
import { ConcurrencyGate } from '../../server/platform/concurrency-gate.ts';

describe('login lock lengths', () => {
  const s = { lockSeconds: 30, lockMaxSeconds: 900 };

  it('locks from the limit on, doubling with each failure up to the maximum', () => {
    expect([1, 2, 3, 4].map((n) => lockSecondsAfter(n, 5, s))).toEqual([0, 0, 0, 0]);
    expect([5, 6, 7, 8, 9, 10].map((n) => lockSecondsAfter(n, 5, s))).toEqual([30, 60, 120, 240, 480, 900]);
    expect(lockSecondsAfter(10_000, 5, s)).toBe(900);
  });
});

describe('concurrency gate', () => {
  it('runs at most its limit at once, in arrival order, and frees a slot when a task throws', async () => {
    const gate = new ConcurrencyGate(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const task = (i: number) => gate.run(async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (i === 1) throw new Error('boom');
      return i;
    });
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map(task));
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(await gate.run(async () => 'free')).toBe('free');
  });
});
