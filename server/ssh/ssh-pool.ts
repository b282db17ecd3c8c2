import type { Logger } from '../platform/logger.ts';
import type { SshConnection, SshConnector } from './ssh-connector.ts';
import type { SshPlan } from './ssh-plan.ts';

export interface PoolOptions {
  /** A connection with no channel open closes after this long. */
  idleMs: number;
  /** Channels per connection; below sshd's default MaxSessions (10), so opens are not refused. */
  maxLeases: number;
}

/** A share of a pooled connection; release it when the channel that used it has closed. */
export interface SshLease {
  connection: SshConnection;
  release(): void;
}

interface Pooled {
  connection: SshConnection;
  leases: number;
  dead: boolean;
  idleTimer: NodeJS.Timeout | null;
}

/**
 * One connection per route (same hops, user and keys) shared by every channel to that host:
 * a log stream, a command and a shell on one host are three channels on one TCP connection
 * and one login. A connection is replaced when it dies and closed when idle. Concurrent
 * first uses of a route wait for the same handshake instead of opening one each.
 */
export class SshPool {
  private readonly byKey = new Map<string, Pooled[]>();
  private readonly connecting = new Map<string, Promise<Pooled>>();

  constructor(
    private readonly connector: SshConnector,
    private readonly opts: PoolOptions,
    private readonly log: Logger,
  ) {}

  async lease(plan: SshPlan): Promise<SshLease> {
    let pooled = this.available(plan.key);
    if (!pooled) {
      let pending = this.connecting.get(plan.key);
      if (!pending) {
        pending = this.open(plan).finally(() => this.connecting.delete(plan.key));
        this.connecting.set(plan.key, pending);
      }
      pooled = await pending;
      // Others waited on the same handshake; past the per-connection limit open another.
      if (pooled.dead || pooled.leases >= this.opts.maxLeases) return this.lease(plan);
    }
    return this.take(pooled);
  }

  /** Connections open now, for stats and tests. */
  get size(): number {
    let n = 0;
    for (const list of this.byKey.values()) n += list.length;
    return n;
  }

  /**
   * Closes every connection that passes through the server known as `lookupName` (target or
   * jump host): trust in its key was withdrawn, so nothing may keep using a session that was
   * verified with it. Streams that can resume will reconnect, and be checked again.
   */
  closeThrough(lookupName: string): number {
    return this.closeWhere((plan) => [...plan.hops, plan.target].some((h) => h.lookupName === lookupName));
  }

  /** Closes every connection whose route matches (a VM that stops or goes away); returns how many. */
  closeWhere(matches: (plan: SshPlan) => boolean): number {
    let n = 0;
    for (const list of this.byKey.values()) {
      for (const p of list) {
        if (matches(p.connection.plan)) {
          this.drop(p);
          n++;
        }
      }
    }
    return n;
  }

  closeAll(): void {
    for (const list of this.byKey.values()) for (const p of list) this.drop(p);
    this.byKey.clear();
  }

  private available(key: string): Pooled | undefined {
    return this.byKey.get(key)?.find((p) => !p.dead && p.leases < this.opts.maxLeases);
  }

  private async open(plan: SshPlan): Promise<Pooled> {
    const connection = await this.connector.connect(plan);
    const pooled: Pooled = { connection, leases: 0, dead: false, idleTimer: null };
    const list = this.byKey.get(plan.key) ?? [];
    list.push(pooled);
    this.byKey.set(plan.key, list);
    this.log.debug({ host: plan.target.label }, 'ssh connection opened');
    void connection.closed.then((reason) => {
      this.log.debug({ host: plan.target.label, reason }, 'ssh connection closed');
      this.forget(plan.key, pooled);
    });
    return pooled;
  }

  private take(p: Pooled): SshLease {
    p.leases++;
    if (p.idleTimer) clearTimeout(p.idleTimer);
    p.idleTimer = null;
    let released = false;
    return {
      connection: p.connection,
      release: () => {
        if (released) return;
        released = true;
        p.leases--;
        if (p.leases === 0 && !p.dead) {
          p.idleTimer = setTimeout(() => this.drop(p), this.opts.idleMs);
          p.idleTimer.unref();
        }
      },
    };
  }

  private drop(p: Pooled) {
    if (p.idleTimer) clearTimeout(p.idleTimer);
    p.dead = true;
    p.connection.close();
  }

  private forget(key: string, p: Pooled) {
    p.dead = true;
    if (p.idleTimer) clearTimeout(p.idleTimer);
    const list = (this.byKey.get(key) ?? []).filter((x) => x !== p);
    if (list.length) this.byKey.set(key, list);
    else this.byKey.delete(key);
  }
}
