import type { Db } from '../platform/db.ts';
import { withTransaction } from '../platform/db.ts';
import type { ParsedHost } from './environments.ts';

/** A host row: what config.yml said, as stored. */
export interface HostRow {
  id: string;
  environment: string;
  name: string;
  host: string;
  user: string | null;
  port: number | null;
  vars: Record<string, unknown>;
  removedAt: string | null;
}

export interface KnownKeyRow {
  id: string;
  lookupName: string;
  keyType: string;
  keyBlob: Buffer;
  fingerprint: string;
  status: 'pending' | 'trusted';
  acceptedBy: string | null;
  acceptedByName: string | null;
  acceptedAt: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
}

const HOST_COLS = `id, environment, name, host, ssh_user AS "user", port, vars, removed_at AS "removedAt"`;
const KEY_COLS = `k.id, k.lookup_name AS "lookupName", k.key_type AS "keyType", k.key_blob AS "keyBlob",
  k.fingerprint, k.status, k.accepted_by AS "acceptedBy", u.username AS "acceptedByName",
  k.accepted_at AS "acceptedAt", k.first_seen_at AS "firstSeenAt", k.last_seen_at AS "lastSeenAt"`;

/** SQL for inventory hosts and the host keys the console trusts. */
export class HostRepository {
  constructor(private readonly db: Db) {}

  /**
   * Makes the stored hosts of one environment equal `hosts`: new ones inserted, changed ones
   * updated, missing ones marked removed (their rows stay, so their jobs keep a host to name).
   * Idempotent, so several servers may sync the same file.
   */
  async syncEnvironment(environment: string, hosts: ParsedHost[]): Promise<void> {
    await withTransaction(this.db, async (c) => {
      for (const h of hosts) {
        await c.query(
          `INSERT INTO hosts (environment, name, host, ssh_user, port, vars)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (environment, name) DO UPDATE SET host = $3, ssh_user = $4, port = $5, vars = $6,
             removed_at = NULL, updated_at = now()
           WHERE (hosts.host, hosts.ssh_user, hosts.port, hosts.vars, hosts.removed_at)
             IS DISTINCT FROM ($3, $4, $5, $6::jsonb, NULL::timestamptz)`,
          [environment, h.name, h.host, h.user, h.port, JSON.stringify(h.vars)],
        );
      }
      await c.query(
        `UPDATE hosts SET removed_at = now(), updated_at = now()
         WHERE environment = $1 AND removed_at IS NULL AND NOT (name = ANY($2::text[]))`,
        [environment, hosts.map((h) => h.name)],
      );
    });
  }

  /** Marks every host of environments not in `present` removed (their folder is gone). */
  async removeEnvironmentsExcept(present: string[]): Promise<void> {
    await this.db.query(
      `UPDATE hosts SET removed_at = now(), updated_at = now()
       WHERE removed_at IS NULL AND NOT (environment = ANY($1::text[]))`,
      [present],
    );
  }

  async listActive(): Promise<HostRow[]> {
    const { rows } = await this.db.query(`SELECT ${HOST_COLS} FROM hosts WHERE removed_at IS NULL ORDER BY environment, name`);
    return rows;
  }

  /** A host by id, removed ones included (a job page still names its host). */
  async get(id: string): Promise<HostRow | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const { rows } = await this.db.query(`SELECT ${HOST_COLS} FROM hosts WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async getByName(environment: string, name: string): Promise<HostRow | null> {
    const { rows } = await this.db.query(`SELECT ${HOST_COLS} FROM hosts WHERE environment = $1 AND name = $2`, [environment, name]);
    return rows[0] ?? null;
  }

  async keysFor(lookupNames: string[]): Promise<KnownKeyRow[]> {
    const { rows } = await this.db.query(
      `SELECT ${KEY_COLS} FROM known_host_keys k LEFT JOIN users u ON u.id = k.accepted_by
       WHERE k.lookup_name = ANY($1::text[]) ORDER BY k.first_seen_at`,
      [lookupNames],
    );
    return rows;
  }

  async listKeys(): Promise<KnownKeyRow[]> {
    const { rows } = await this.db.query(
      `SELECT ${KEY_COLS} FROM known_host_keys k LEFT JOIN users u ON u.id = k.accepted_by
       ORDER BY k.status, k.lookup_name, k.first_seen_at`,
    );
    return rows;
  }

  /** Records a key a server presented that nobody trusts yet (or refreshes when it was last seen). */
  async notePresented(lookupName: string, keyType: string, blob: Buffer, fingerprint: string): Promise<KnownKeyRow> {
    const { rows } = await this.db.query(
      `WITH k AS (
         INSERT INTO known_host_keys (lookup_name, key_type, key_blob, fingerprint, status)
         VALUES ($1, $2, $3, $4, 'pending')
         ON CONFLICT (lookup_name, fingerprint) DO UPDATE SET last_seen_at = now()
         RETURNING *)
       SELECT ${KEY_COLS} FROM k LEFT JOIN users u ON u.id = k.accepted_by`,
      [lookupName, keyType, blob, fingerprint],
    );
    return rows[0];
  }

  /** pending → trusted; null when there is no such presented key. */
  async trust(lookupName: string, fingerprint: string, userId: string): Promise<KnownKeyRow | null> {
    const { rows } = await this.db.query(
      `WITH k AS (
         UPDATE known_host_keys SET status = 'trusted', accepted_by = $3, accepted_at = now()
         WHERE lookup_name = $1 AND fingerprint = $2 RETURNING *)
       SELECT ${KEY_COLS} FROM k LEFT JOIN users u ON u.id = k.accepted_by`,
      [lookupName, fingerprint, userId],
    );
    return rows[0] ?? null;
  }

  async deleteKey(id: string): Promise<KnownKeyRow | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const { rows } = await this.db.query(
      `WITH k AS (DELETE FROM known_host_keys WHERE id = $1 RETURNING *)
       SELECT ${KEY_COLS} FROM k LEFT JOIN users u ON u.id = k.accepted_by`,
      [id],
    );
    return rows[0] ?? null;
  }
}
