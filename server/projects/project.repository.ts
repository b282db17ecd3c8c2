import type { Queryable } from '../platform/db.ts';

/** A project registered in the UI (the registry's projects are never stored). */
export interface ProjectRow {
  alias: string;
  dir: string;
  createdBy: string | null;
  createdAt: Date;
}

const COLS = 'alias, dir, created_by AS "createdBy", created_at AS "createdAt"';

/** SQL for UI-registered projects. */
export class ProjectRepository {
  constructor(private readonly db: Queryable) {}

  async list(): Promise<ProjectRow[]> {
    const { rows } = await this.db.query<ProjectRow>(`SELECT ${COLS} FROM projects ORDER BY alias`);
    return rows;
  }

  async get(alias: string): Promise<ProjectRow | null> {
    const { rows } = await this.db.query<ProjectRow>(`SELECT ${COLS} FROM projects WHERE alias = $1`, [alias]);
    return rows[0] ?? null;
  }

  /** Throws the driver's unique violation (23505) when the alias is taken. */
  async insert(p: { alias: string; dir: string; createdBy: string | null }): Promise<ProjectRow> {
    const { rows } = await this.db.query<ProjectRow>(
      `INSERT INTO projects (alias, dir, created_by) VALUES ($1, $2, $3) RETURNING ${COLS}`,
      [p.alias, p.dir, p.createdBy],
    );
    return rows[0];
  }

  async delete(alias: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM projects WHERE alias = $1', [alias]);
    return (rowCount ?? 0) > 0;
  }
}
