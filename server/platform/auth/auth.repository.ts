import type { Queryable } from '../db.ts';
import type { ApiToken, Role, User } from '../../../src/lib/shared/auth.ts';

interface UserRow {
  id: string;
  username: string;
  role: Role;
  tier: string;
  can_terminal: boolean;
  password_hash: string;
}

const toUser = (r: UserRow): User => ({
  id: r.id, username: r.username, role: r.role, tier: r.tier, canTerminal: r.can_terminal,
});

const USER_COLS = 'u.id, u.username, u.role, u.tier, u.can_terminal';

/** SQL for users, sessions and API tokens. */
export class AuthRepository {
  constructor(private readonly db: Queryable) {}

  async countUsers(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    return rows[0].n;
  }

  async createUser(u: { username: string; passwordHash: string; role: Role; tier?: string; canTerminal?: boolean }): Promise<User> {
    const { rows } = await this.db.query<UserRow>(
      `INSERT INTO users AS u (username, password_hash, role, tier, can_terminal) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${USER_COLS}, u.password_hash`,
      [u.username, u.passwordHash, u.role, u.tier ?? 'free', u.canTerminal ?? u.role === 'admin'],
    );
    return toUser(rows[0]);
  }

  async findUserForLogin(username: string): Promise<(User & { passwordHash: string }) | null> {
    const { rows } = await this.db.query<UserRow>(
      `SELECT ${USER_COLS}, u.password_hash FROM users u WHERE u.username = $1`, [username],
    );
    return rows[0] ? { ...toUser(rows[0]), passwordHash: rows[0].password_hash } : null;
  }

  async listUsers(): Promise<User[]> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${USER_COLS} FROM users u ORDER BY u.username`);
    return rows.map(toUser);
  }

  async updateUser(id: string, patch: { role?: Role; tier?: string; canTerminal?: boolean }): Promise<User | null> {
    const { rows } = await this.db.query<UserRow>(
      `UPDATE users u SET role = coalesce($2, role), tier = coalesce($3, tier), can_terminal = coalesce($4, can_terminal)
       WHERE id = $1 RETURNING ${USER_COLS}`,
      [id, patch.role ?? null, patch.tier ?? null, patch.canTerminal ?? null],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }

  async createSession(idHash: string, userId: string, expiresAt: Date): Promise<void> {
    await this.db.query('INSERT INTO sessions (id_hash, user_id, expires_at) VALUES ($1, $2, $3)', [idHash, userId, expiresAt]);
  }

  async userForSession(idHash: string): Promise<User | null> {
    const { rows } = await this.db.query<UserRow>(
      `SELECT ${USER_COLS} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > now()`,
      [idHash],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db.query('DELETE FROM sessions WHERE id_hash = $1 OR expires_at < now()', [idHash]);
  }

  async createToken(userId: string, name: string, tokenHash: string): Promise<ApiToken> {
    const { rows } = await this.db.query(
      `INSERT INTO api_tokens (user_id, name, token_hash) VALUES ($1, $2, $3)
       RETURNING id, name, created_at AS "createdAt", last_used_at AS "lastUsedAt"`,
      [userId, name, tokenHash],
    );
    return rows[0];
  }

  async listTokens(userId: string): Promise<ApiToken[]> {
    const { rows } = await this.db.query(
      `SELECT id, name, created_at AS "createdAt", last_used_at AS "lastUsedAt" FROM api_tokens
       WHERE user_id = $1 ORDER BY created_at DESC`,
      [userId],
    );
    return rows;
  }

  async deleteToken(userId: string, id: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM api_tokens WHERE id = $1 AND user_id = $2', [id, userId]);
    return r.rowCount === 1;
  }

  async userForToken(tokenHash: string): Promise<User | null> {
    const { rows } = await this.db.query<UserRow>(
      `UPDATE api_tokens t SET last_used_at = now() FROM users u
       WHERE t.token_hash = $1 AND u.id = t.user_id RETURNING ${USER_COLS}`,
      [tokenHash],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }
}
