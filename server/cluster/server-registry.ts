import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Db } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { processStartTime } from '../sources/process-group.ts';
import type { ConsoleServer, ServerListing } from '../../src/lib/shared/servers.ts';

export interface RegistrySettings {
  heartbeatSeconds: number;
  /** A server whose heartbeat is older than this is dead. */
  deadSeconds: number;
  /** host:port this server listens on, for operators reading the table. */
  address?: string;
}

export interface DeadServer {
  id: string;
  machine: string;
  pid: number;
}

interface ServerRow extends DeadServer {
  procStart: string | null;
  stale: boolean;
}

/**
 * This machine as this boot: two servers with the same key share process ids, so one may
 * kill what the other left. The boot id changes at reboot, when old pids mean nothing.
 */
export function machineKey(): string {
  let boot = '';
  try {
    boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // Not Linux: the hostname alone.
  }
  return boot ? `${os.hostname()}/${boot}` : os.hostname();
}

/**
 * This server's row in `console_servers`: registered at start, refreshed by a heartbeat, and
 * the judge of which other servers are dead. Claiming a dead server deletes its row in one
 * statement, so exactly one survivor handles it.
 */
export class ServerRegistry {
  readonly id = crypto.randomUUID();
  readonly machine = machineKey();
  private timer?: NodeJS.Timeout;
  private ticking = false;

  constructor(private readonly db: Db, private readonly log: Logger, private readonly settings: RegistrySettings) {}

  async register(): Promise<void> {
    await this.db.query(
      `INSERT INTO console_servers (id, machine, pid, proc_start, address) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
      [this.id, this.machine, process.pid, processStartTime(process.pid), this.settings.address ?? null],
    );
  }

  /**
   * Runs `tick` after each heartbeat. `lost` is called when this server's row was gone:
   * another server took it for dead and interrupted its jobs, so what still runs here must stop.
   */
  start(tick: () => Promise<void>, lost: () => Promise<void>): void {
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = true;
      void (async () => {
        try {
          if (!(await this.heartbeat())) {
            this.log.error({ serverId: this.id }, 'this server was taken for dead by another one; stopping its jobs and registering again');
            await lost();
            await this.register();
          }
          await tick();
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'server heartbeat failed');
        } finally {
          this.ticking = false;
        }
      })();
    }, this.settings.heartbeatSeconds * 1000);
    this.timer.unref();
  }

  async setAddress(address: string): Promise<void> {
    this.settings.address = address;
    await this.db.query('UPDATE console_servers SET address = $2 WHERE id = $1', [this.id, address]);
  }

  /** False when this server's row no longer exists. */
  async heartbeat(): Promise<boolean> {
    const r = await this.db.query('UPDATE console_servers SET heartbeat_at = now() WHERE id = $1', [this.id]);
    return r.rowCount === 1;
  }

  /**
   * Claims every dead server: heartbeat too old, or on this machine with its process gone
   * (found at once, without waiting for the heartbeat to age, e.g. after a restart).
   */
  async claimDead(): Promise<DeadServer[]> {
    const { rows } = await this.db.query<ServerRow>(
      `SELECT id, machine, pid, proc_start AS "procStart",
              heartbeat_at < now() - make_interval(secs => $2) AS stale
       FROM console_servers WHERE id <> $1`,
      [this.id, this.settings.deadSeconds],
    );
    const dead = rows.filter((r) => r.stale || (r.machine === this.machine && !this.isAlive(r)));
    const claimed: DeadServer[] = [];
    for (const r of dead) {
      const del = await this.db.query('DELETE FROM console_servers WHERE id = $1', [r.id]);
      if (del.rowCount === 1) claimed.push({ id: r.id, machine: r.machine, pid: r.pid });
    }
    return claimed;
  }

  async peers(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM console_servers WHERE id <> $1 AND heartbeat_at >= now() - make_interval(secs => $2)`,
      [this.id, this.settings.deadSeconds],
    );
    return rows[0].n;
  }

  /** Every registered server, this one included, with what it runs now. */
  async list(): Promise<ServerListing> {
    const { rows } = await this.db.query<Omit<ConsoleServer, 'self'>>(
      `SELECT s.id, s.address, s.machine, s.pid, s.started_at AS "startedAt", s.heartbeat_at AS "heartbeatAt",
              s.heartbeat_at >= now() - make_interval(secs => $1) AS alive,
              (SELECT count(*)::int FROM jobs j WHERE j.server_id = s.id AND j.status IN ('queued', 'running', 'spawned')) AS "runningJobs"
       FROM console_servers s ORDER BY s.started_at`,
      [this.settings.deadSeconds],
    );
    return {
      servers: rows.map((r) => ({ ...r, self: r.id === this.id })),
      heartbeatSeconds: this.settings.heartbeatSeconds,
      deadSeconds: this.settings.deadSeconds,
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.db.query('DELETE FROM console_servers WHERE id = $1', [this.id]).catch(() => {});
  }

  private isAlive(r: ServerRow): boolean {
    if (r.pid === process.pid) return true;
    const start = processStartTime(r.pid);
    return start !== null && (r.procStart === null || start === r.procStart);
  }
}
