import type { Db } from '../db.ts';
import { withTransaction } from '../db.ts';
import type { Account, ApiToken, Role, User } from '../../../src/lib/shared/auth.ts';

interface UserRow {
  id: string;
  username: string;
  role: Role;
  tier: string;
  can_terminal: boolean;
}

interface AccountRow extends UserRow {
  disabled_at: Date | null;
  last_login_at: Date | null;
  created_at: Date;
}

const toUser = (r: UserRow): User => ({
  id: r.id, username: r.username, role: r.role, tier: r.tier, canTerminal: r.can_terminal,
});

const toAccount = (r: AccountRow): Omit<Account, 'lockedUntil'> => ({
  ...toUser(r),
  disabled: r.disabled_at !== null,
  createdAt: r.created_at.toISOString(),
  lastLoginAt: r.last_login_at?.toISOString() ?? null,
});

const USER_COLS = 'u.id, u.username, u.role, u.tier, u.can_terminal';
const ACCOUNT_COLS = `${USER_COLS}, u.disabled_at, u.last_login_at, u.created_at`;
/** A user who may act: not disabled, not deleted. */
const ACTIVE = 'u.disabled_at IS NULL AND u.deleted_at IS NULL';
const TOKEN_COLS = 'id, name, created_at AS "createdAt", last_used_at AS "lastUsedAt", expires_at AS "expiresAt"';

/** What may happen to an account; `role` also covers a demotion. */
export type AccountChange = { kind: 'disable' } | { kind: 'enable' } | { kind: 'delete' } | { kind: 'update'; patch: { role?: Role; tier?: string; canTerminal?: boolean } };

export class LastAdminError extends Error {}

/** SQL for users, sessions and API tokens. */
export class AuthRepository {
  constructor(private readonly db: Db) {}

  async countUsers(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    return rows[0].n;
  }

  async createUser(u: { username: string; passwordHash: string; role: Role; tier?: string; canTerminal?: boolean }): Promise<User> {
    const { rows } = await this.db.query<UserRow>(
      `INSERT INTO users AS u (username, password_hash, role, tier, can_terminal) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${USER_COLS}`,
      [u.username, u.passwordHash, u.role, u.tier ?? 'free', u.canTerminal ?? u.role === 'admin'],
    );
    return toUser(rows[0]);
  }

  async findUserForLogin(username: string): Promise<(User & { passwordHash: string; disabled: boolean }) | null> {
    const { rows } = await this.db.query<UserRow & { password_hash: string; disabled_at: Date | null }>(
      `SELECT ${USER_COLS}, u.password_hash, u.disabled_at FROM users u WHERE u.username = $1 AND u.deleted_at IS NULL`, [username],
    );
    const r = rows[0];
    return r ? { ...toUser(r), passwordHash: r.password_hash, disabled: r.disabled_at !== null } : null;
  }

  async passwordHash(userId: string): Promise<string | null> {
    const { rows } = await this.db.query<{ password_hash: string }>(
      `SELECT u.password_hash FROM users u WHERE u.id = $1 AND ${ACTIVE}`, [userId],
    );
    return rows[0]?.password_hash ?? null;
  }

  async recordLogin(userId: string): Promise<void> {
    await this.db.query('UPDATE users SET last_login_at = now() WHERE id = $1', [userId]);
  }

  async listAccounts(): Promise<Array<Omit<Account, 'lockedUntil'>>> {
    const { rows } = await this.db.query<AccountRow>(
      `SELECT ${ACCOUNT_COLS} FROM users u WHERE u.deleted_at IS NULL ORDER BY u.username`,
    );
    return rows.map(toAccount);
  }

  async findAccount(id: string): Promise<Omit<Account, 'lockedUntil'> | null> {
    const { rows } = await this.db.query<AccountRow>(
      `SELECT ${ACCOUNT_COLS} FROM users u WHERE u.id = $1 AND u.deleted_at IS NULL`, [id],
    );
    return rows[0] ? toAccount(rows[0]) : null;
  }

  /**
   * Applies one change under a lock on every active admin row, so two admins demoting,
   * disabling or deleting each other at once cannot leave the console without one.
   * Null: no such (live) account.
   */
  async changeAccount(id: string, change: AccountChange): Promise<Omit<Account, 'lockedUntil'> | null> {
    return withTransaction(this.db, async (tx) => {
      const { rows: admins } = await tx.query<{ id: string }>(
        `SELECT u.id FROM users u WHERE u.role = 'admin' AND ${ACTIVE} ORDER BY u.id FOR UPDATE`,
      );
      const removesAdmin = change.kind === 'disable' || change.kind === 'delete' ||
        (change.kind === 'update' && change.patch.role === 'user');
      if (removesAdmin && admins.length === 1 && admins[0].id === id) {
        throw new LastAdminError('The console needs at least one active administrator');
      }
      const set = {
        disable: 'disabled_at = coalesce(disabled_at, now())',
        enable: 'disabled_at = NULL',
        // The row stays for the history that names it; the name is free again (partial unique index).
        delete: 'deleted_at = now(), disabled_at = coalesce(disabled_at, now())',
        update: 'role = coalesce($2, role), tier = coalesce($3, tier), can_terminal = coalesce($4, can_terminal)',
      }[change.kind];
      const patch = change.kind === 'update' ? change.patch : {};
      const params = change.kind === 'update' ? [id, patch.role ?? null, patch.tier ?? null, patch.canTerminal ?? null] : [id];
      const { rows } = await tx.query<AccountRow>(
        `UPDATE users u SET ${set} WHERE u.id = $1 AND u.deleted_at IS NULL RETURNING ${ACCOUNT_COLS}`, params,
      );
      if (!rows[0]) return null;
      if (change.kind === 'delete') {
        await tx.query('DELETE FROM api_tokens WHERE user_id = $1', [id]);
      }
      if (change.kind === 'delete' || change.kind === 'disable') {
        await tx.query('DELETE FROM sessions WHERE user_id = $1', [id]);
      }
      return toAccount(rows[0]);
    });
  }

  /** Machines a user still owns; an account with any cannot be deleted (they would lose their owner). */
  async liveVmCount(userId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM vms WHERE owner_id = $1 AND state <> 'destroyed'`, [userId],
    );
    return rows[0].n;
  }

  /** Sets a password and ends sessions: all of them, or all but the one that changed it. */
  async setPassword(userId: string, passwordHash: string, keepSessionHash?: string): Promise<boolean> {
    return withTransaction(this.db, async (tx) => {
      const r = await tx.query(
        `UPDATE users u SET password_hash = $2, password_changed_at = now() WHERE u.id = $1 AND u.deleted_at IS NULL`,
        [userId, passwordHash],
      );
      if (r.rowCount !== 1) return false;
      await tx.query('DELETE FROM sessions WHERE user_id = $1 AND id_hash IS DISTINCT FROM $2', [userId, keepSessionHash ?? null]);
      return true;
    });
  }

  async createSession(idHash: string, userId: string, expiresAt: Date): Promise<void> {
    await this.db.query('INSERT INTO sessions (id_hash, user_id, expires_at) VALUES ($1, $2, $3)', [idHash, userId, expiresAt]);
  }

  async userForSession(idHash: string): Promise<User | null> {
    const { rows } = await this.db.query<UserRow>(
      `SELECT ${USER_COLS} FROM sessions s JOIN users u ON u.id = s.user_id
       WHERE s.id_hash = $1 AND s.expires_at > now() AND ${ACTIVE}`,
      [idHash],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db.query('DELETE FROM sessions WHERE id_hash = $1 OR expires_at < now()', [idHash]);
  }

  async createToken(userId: string, name: string, tokenHash: string, expiresAt: Date | null): Promise<ApiToken> {
    const { rows } = await this.db.query(
      `INSERT INTO api_tokens (user_id, name, token_hash, expires_at) VALUES ($1, $2, $3, $4) RETURNING ${TOKEN_COLS}`,
      [userId, name, tokenHash, expiresAt],
    );
    return rows[0];
  }

  async listTokens(userId: string): Promise<ApiToken[]> {
    const { rows } = await this.db.query(
      `SELECT ${TOKEN_COLS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC`,
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
       WHERE t.token_hash = $1 AND u.id = t.user_id AND (t.expires_at IS NULL OR t.expires_at > now()) AND ${ACTIVE}
       RETURNING ${USER_COLS}`,
      [tokenHash],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }
}
