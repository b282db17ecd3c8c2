import type { Db, Queryable } from '../platform/db.ts';
import type { Job, JobStatus, JobType } from '../../src/lib/shared/jobs.ts';

const COLS = `j.id, j.type, j.command, j.status, j.exit_code AS "exitCode", j.user_id AS "userId",
  u.username, j.project_alias AS "projectAlias", j.target, j.host_id AS "hostId", j.vm_id AS "vmId",
  j.created_at AS "createdAt", j.started_at AS "startedAt", j.finished_at AS "finishedAt",
  j.last_seq AS "lastSeq", j.bytes, j.truncated, j.server_id AS "serverId"`;
const FROM = 'FROM jobs j LEFT JOIN users u ON u.id = j.user_id';

export interface NewJob {
  type: JobType;
  command: string;
  spec: Record<string, unknown>;
  status: JobStatus;
  userId: string | null;
  projectAlias?: string | null;
  target?: string | null;
  hostId?: string | null;
  vmId?: string | null;
}

export interface JobFilter {
  type?: string;
  status?: string;
  project?: string;
  target?: string;
  host?: string;
  vm?: string;
  user?: string;
  q?: string;
  since?: string;
  /** Keyset cursor: createdAt|id of the last job on the previous page. */
  before?: string;
  limit: number;
  /** Non-admins see only their own jobs. */
  visibleTo?: string;
}

export interface RunningJobRow {
  id: string;
  lastSeq: number;
  pgid: number | null;
  serverId: string | null;
  /** procMachine: the machine (ServerRegistry.machine) whose pid namespace pgid belongs to. */
  spec: { procStart?: string | null; procMachine?: string };
}

/** The server process jobs are created and started on. */
export interface JobServer {
  id: string;
  machine: string;
}

/** SQL for jobs. Status changes are compare-and-set: a zero-row update means someone else moved it. */
export class JobRepository {
  constructor(private readonly db: Db, private readonly server: JobServer | null = null) {}

  async create(j: NewJob, q: Queryable = this.db): Promise<Job> {
    const { rows } = await q.query(
      `WITH j AS (INSERT INTO jobs (type, command, spec, status, user_id, project_alias, target, host_id, vm_id, server_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *)
       SELECT ${COLS} FROM j LEFT JOIN users u ON u.id = j.user_id`,
      [j.type, j.command, JSON.stringify(j.spec), j.status, j.userId, j.projectAlias ?? null, j.target ?? null, j.hostId ?? null, j.vmId ?? null, this.server?.id ?? null],
    );
    return rows[0];
  }

  async get(id: string): Promise<Job | null> {
    const { rows } = await this.db.query(`SELECT ${COLS} ${FROM} WHERE j.id = $1`, [id]);
    return rows[0] ?? null;
  }

  async spec(id: string): Promise<Record<string, unknown> | null> {
    const { rows } = await this.db.query('SELECT spec FROM jobs WHERE id = $1', [id]);
    return rows[0]?.spec ?? null;
  }

  /** Merges `patch` into the job's spec (e.g. a log stream's resume position). */
  async mergeSpec(id: string, patch: Record<string, unknown>): Promise<void> {
    await this.db.query('UPDATE jobs SET spec = spec || $2::jsonb WHERE id = $1', [id, JSON.stringify(patch)]);
  }

  async markRunning(id: string, pgid: number | null, procStart: string | null): Promise<Job | null> {
    const { rows } = await this.db.query(
      `WITH j AS (UPDATE jobs SET status = 'running', started_at = now(), pgid = $2, server_id = coalesce($4, server_id),
         spec = spec || jsonb_build_object('procStart', $3::text, 'procMachine', $5::text)
       WHERE id = $1 AND status = 'queued' RETURNING *)
       SELECT ${COLS} FROM j LEFT JOIN users u ON u.id = j.user_id`,
      [id, pgid, procStart, this.server?.id ?? null, this.server?.machine ?? null],
    );
    return rows[0] ?? null;
  }

  async finish(id: string, status: JobStatus, exitCode: number | null, truncated = false): Promise<Job | null> {
    const { rows } = await this.db.query(
      `WITH j AS (UPDATE jobs SET status = $2, exit_code = $3, finished_at = now(), pgid = NULL, truncated = truncated OR $4
       WHERE id = $1 AND status IN ('queued', 'running', 'spawned') RETURNING *)
       SELECT ${COLS} FROM j LEFT JOIN users u ON u.id = j.user_id`,
      [id, status, exitCode, truncated],
    );
    return rows[0] ?? null;
  }

  /**
   * Unfinished jobs no live server runs: their server's row is gone (it died and was claimed,
   * or it is this server's previous process) or they predate server ids. VM operation jobs
   * are not among them: they live as long as their operation in the queue (which survives
   * restarts and hands work to live servers), and the VM engine's own reaper settles them.
   */
  async orphaned(): Promise<RunningJobRow[]> {
    const { rows } = await this.db.query(
      `SELECT id, last_seq AS "lastSeq", pgid, spec, server_id AS "serverId" FROM jobs j
       WHERE status IN ('queued', 'running', 'spawned') AND type <> 'vm'
         AND (server_id IS NULL OR NOT EXISTS (SELECT 1 FROM console_servers s WHERE s.id = j.server_id))`,
    );
    return rows;
  }

  /** Takes an orphaned job over, so that of several servers reaping at once exactly one ends it. */
  async claimOrphan(id: string, formerServerId: string | null): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE jobs SET server_id = $3 WHERE id = $1 AND server_id IS NOT DISTINCT FROM $2 AND status IN ('queued', 'running', 'spawned')`,
      [id, formerServerId, this.server?.id ?? null],
    );
    return r.rowCount === 1;
  }

  async list(f: JobFilter): Promise<{ jobs: Job[]; next: string | null }> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      args.push(v);
      where.push(sql.replace('?', `$${args.length}`));
    };
    if (f.visibleTo) add('j.user_id = ?', f.visibleTo);
    if (f.type) add('j.type = ANY(string_to_array(?, \',\'))', f.type);
    if (f.status) add('j.status = ANY(string_to_array(?, \',\'))', f.status);
    if (f.project) add('j.project_alias = ?', f.project);
    if (f.target) add('j.target = ?', f.target);
    if (f.host) add('j.host_id = ?', f.host);
    if (f.vm) add('j.vm_id::text = ?', f.vm);
    if (f.user) add('(u.username = ? OR j.user_id::text = $' + (args.length + 1) + ')', f.user);
    if (f.user) args.push(f.user);
    if (f.q) add("(j.command ILIKE '%' || ? || '%')", f.q.replace(/[\\%_]/g, (c) => `\\${c}`));
    if (f.since) add('j.created_at >= ?::timestamptz', f.since);
    if (f.before) {
      const [at, id] = f.before.split('|');
      args.push(at, id);
      where.push(`(j.created_at, j.id) < ($${args.length - 1}::timestamptz, $${args.length}::uuid)`);
    }
    args.push(f.limit);
    const { rows } = await this.db.query(
      `SELECT ${COLS}, to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt"
       ${FROM} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY j.created_at DESC, j.id DESC LIMIT $${args.length}`,
      args,
    );
    // The cursor keeps microseconds: a millisecond cursor could skip jobs created in the same millisecond.
    const last = rows[rows.length - 1];
    const next = rows.length === f.limit ? `${last.cursorAt}|${last.id}` : null;
    return { jobs: rows.map(({ cursorAt: _, ...job }) => job as Job), next };
  }
}
