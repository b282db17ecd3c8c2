import { describe, expect, it } from 'vitest';
import { ADVISORY_LOCKS } from '../../server/platform/advisory-locks.ts';

describe('advisory lock ids', () => {
  it('never change (servers of different versions on one database must agree) and never collide', () => {
    expect(ADVISORY_LOCKS).toEqual({ migrations: 727274, vmCapacity: 727275 });
    const ids = Object.values(ADVISORY_LOCKS);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
