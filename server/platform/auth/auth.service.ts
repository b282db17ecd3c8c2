import crypto from 'node:crypto';
import type { Role, User } from '../../../src/lib/shared/auth.ts';
import type { AuditLog } from '../audit.ts';
import { AppError, conflict, notFound, validationFailed } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { AuthRepository } from './auth.repository.ts';
import { hashPassword, hashSecret, newSecret, verifyPassword } from './passwords.ts';

export const SESSION_COOKIE = 'vmo_session';
const TOKEN_PREFIX = 'vmo_';
const USERNAME = /^[a-zA-Z0-9_.-]{1,64}$/;

/** Logins, sessions, API tokens and accounts. No HTTP types here. */
export class AuthService {
  private userChanged: Array<(user: User) => void> = [];
  // Verifying against a real hash for unknown users keeps login time from revealing which usernames exist.
  private dummyHash = hashPassword(crypto.randomBytes(16).toString('hex'));

  constructor(
    private readonly repo: AuthRepository,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly sessionTtlHours: number,
  ) {}

  /**
   * First start: with no users at all, create `admin` with ADMIN_PASSWORD or a random
   * password that is printed once (to stdout, not the log, so log shipping never sees it).
   */
  async bootstrapAdmin(adminPassword: string | undefined, print: (line: string) => void): Promise<void> {
    if ((await this.repo.countUsers()) > 0) return;
    const password = adminPassword ?? crypto.randomBytes(12).toString('base64url');
    try {
      await this.repo.createUser({ username: 'admin', passwordHash: await hashPassword(password), role: 'admin' });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') return; // another instance won the race
      throw err;
    }
    await this.audit.record({ type: 'system', action: 'admin.bootstrap', metadata: { username: 'admin' } });
    if (!adminPassword) {
      print(`\n  First start: created user "admin" with password: ${password}\n  Change it or set ADMIN_PASSWORD before the first start next time.\n`);
    } else {
      this.log.info('created user admin with the password from ADMIN_PASSWORD');
    }
  }

  async login(username: string, password: string, ip?: string): Promise<{ user: User; session: string; expiresAt: Date }> {
    const found = USERNAME.test(username) ? await this.repo.findUserForLogin(username) : null;
    const ok = await verifyPassword(password, found?.passwordHash ?? (await this.dummyHash));
    if (!found || !ok) {
      await this.audit.record({ type: 'auth', action: 'login.failed', severity: 'warning', metadata: { username, ip } });
      throw new AppError(401, 'unauthenticated', 'Wrong username or password');
    }
    const session = newSecret();
    const expiresAt = new Date(Date.now() + this.sessionTtlHours * 3600_000);
    await this.repo.createSession(hashSecret(session), found.id, expiresAt);
    await this.audit.record({ type: 'auth', action: 'login', userId: found.id, metadata: { ip } });
    const { passwordHash: _, ...user } = found;
    return { user, session, expiresAt };
  }

  async logout(session: string, userId: string): Promise<void> {
    await this.repo.deleteSession(hashSecret(session));
    await this.audit.record({ type: 'auth', action: 'logout', userId });
  }

  userForSession(session: string): Promise<User | null> {
    return this.repo.userForSession(hashSecret(session));
  }

  userForToken(token: string): Promise<User | null> {
    if (!token.startsWith(TOKEN_PREFIX)) return Promise.resolve(null);
    return this.repo.userForToken(hashSecret(token));
  }

  async createToken(user: User, name: string) {
    const token = newSecret(TOKEN_PREFIX);
    const row = await this.repo.createToken(user.id, name, hashSecret(token));
    await this.audit.record({ type: 'auth', action: 'token.create', userId: user.id, metadata: { tokenId: row.id, name } });
    return { ...row, token };
  }

  listTokens(user: User) {
    return this.repo.listTokens(user.id);
  }

  async deleteToken(user: User, id: string): Promise<void> {
    if (!(await this.repo.deleteToken(user.id, id))) throw notFound('Token');
    await this.audit.record({ type: 'auth', action: 'token.delete', userId: user.id, metadata: { tokenId: id } });
  }

  listUsers() {
    return this.repo.listUsers();
  }

  async createUser(actor: User, u: { username: string; password: string; role: Role; tier?: string; canTerminal?: boolean }) {
    if (!USERNAME.test(u.username)) throw validationFailed('Username may use letters, digits, _ . - (1-64)');
    try {
      const user = await this.repo.createUser({ ...u, passwordHash: await hashPassword(u.password) });
      await this.audit.record({ type: 'admin', action: 'user.create', userId: actor.id, metadata: { username: u.username, role: u.role } });
      return user;
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw conflict(`User ${u.username} already exists`);
      throw err;
    }
  }

  async updateUser(actor: User, id: string, patch: { role?: Role; tier?: string; canTerminal?: boolean }) {
    const user = await this.repo.updateUser(id, patch);
    if (!user) throw notFound('User');
    await this.audit.record({ type: 'admin', action: 'user.update', userId: actor.id, metadata: { target: id, ...patch } });
    for (const fn of this.userChanged) fn(user);
    return user;
  }

  /** Calls `fn` with the new state of an account an admin changed (role, terminal permission …). */
  onUserChanged(fn: (user: User) => void): void {
    this.userChanged.push(fn);
  }
}
