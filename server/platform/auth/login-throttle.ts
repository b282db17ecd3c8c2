import type { Queryable } from '../db.ts';

export interface LoginThrottleSettings {
  /** Failures a username may have within the window before it is locked. */
  maxFailuresPerUser: number;
  /** The same for one client address (many usernames tried from one place). */
  maxFailuresPerAddress: number;
  /** First lock; every further failure doubles it, up to lockMaxSeconds. */
  lockSeconds: number;
  lockMaxSeconds: number;
  /** Failures older than this are forgotten. */
  windowSeconds: number;
}

export interface ThrottleKey {
  key: string;
  maxFailures: number;
}

export interface LockStarted {
  key: string;
  seconds: number;
}

/**
 * Seconds a key stays locked after its `failures`-th failure: none below the limit, then the
 * first lock doubling with each failure past it. Exponent capped so the number stays finite.
 */
export function lockSecondsAfter(failures: number, maxFailures: number, s: Pick<LoginThrottleSettings, 'lockSeconds' | 'lockMaxSeconds'>): number {
  if (failures < maxFailures) return 0;
  return Math.min(s.lockMaxSeconds, s.lockSeconds * 2 ** Math.min(failures - maxFailures, 30));
}

/**
 * Counts failed logins per username and per client address in Postgres (so every server sees
 * the same counts) and locks a key for a growing time once it has too many.
 */
export class LoginThrottle {
  constructor(private readonly db: Queryable, readonly settings: LoginThrottleSettings) {}

  keysFor(username: string, address: string | undefined): ThrottleKey[] {
    const keys = [{ key: `user:${username}`, maxFailures: this.settings.maxFailuresPerUser }];
    if (address) keys.push({ key: `ip:${address}`, maxFailures: this.settings.maxFailuresPerAddress });
    return keys;
  }

  /** Whole seconds until every key is unlocked; 0 when none is locked. */
  async retryAfter(keys: ThrottleKey[]): Promise<number> {
    const { rows } = await this.db.query<{ seconds: number }>(
      `SELECT coalesce(max(ceil(extract(epoch FROM locked_until - now()))), 0)::int AS seconds
       FROM login_throttle WHERE key = ANY($1) AND locked_until > now()`,
      [keys.map((k) => k.key)],
    );
    return rows[0].seconds;
  }

  /** Counts one failure on each key; returns the locks this failure started. */
  async recordFailure(keys: ThrottleKey[]): Promise<LockStarted[]> {
    const started: LockStarted[] = [];
    for (const k of keys) {
      const { rows } = await this.db.query<{ failures: number }>(
        `INSERT INTO login_throttle AS t (key, failures, last_failure_at) VALUES ($1, 1, now())
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN t.last_failure_at < now() - make_interval(secs => $2) THEN 1 ELSE t.failures + 1 END,
           last_failure_at = now()
         RETURNING failures`,
        [k.key, this.settings.windowSeconds],
      );
      const seconds = lockSecondsAfter(rows[0].failures, k.maxFailures, this.settings);
      if (!seconds) continue;
      await this.db.query(
        `UPDATE login_throttle SET locked_until = now() + make_interval(secs => $2) WHERE key = $1`,
        [k.key, seconds],
      );
      started.push({ key: k.key, seconds });
    }
    return started;
  }

  /** A good password clears the username's count; the address keeps its count, so one valid
   *  account does not reset an address that is guessing others. */
  async recordSuccess(username: string): Promise<void> {
    await this.clear(username);
  }

  /** Lets a locked-out user in again (an admin's unlock or password reset). */
  async clear(username: string): Promise<void> {
    await this.db.query('DELETE FROM login_throttle WHERE key = $1', [`user:${username}`]);
  }

  async lockedUntil(usernames: string[]): Promise<Map<string, string>> {
    const { rows } = await this.db.query<{ key: string; until: Date }>(
      `SELECT key, locked_until AS until FROM login_throttle WHERE key = ANY($1) AND locked_until > now()`,
      [usernames.map((u) => `user:${u}`)],
    );
    return new Map(rows.map((r) => [r.key.slice('user:'.length), r.until.toISOString()]));
  }
}
