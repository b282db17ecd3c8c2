import crypto from 'node:crypto';
import type { Account, Role, User } from '../../../src/lib/shared/auth.ts';
import type { AuditLog } from '../audit.ts';
import { ConcurrencyGate } from '../concurrency-gate.ts';
import { AppError, conflict, forbidden, notFound, rateLimited, validationFailed } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { LastAdminError, type AccountChange, type AuthRepository } from './auth.repository.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { hashPassword, hashSecret, newSecret, verifyPassword } from './passwords.ts';

const TOKEN_PREFIX = 'vmo_';
const USERNAME = /^[a-zA-Z0-9_.-]{1,64}$/;

/** A user's access ended server-side; live sockets and terminals must follow. */
export interface AccessEnded {
  userId: string;
  reason: string;
  /**
   * Set for a password change: only sessions other than this one ended (null when the change
   * came with a token), and tokens keep working. Unset: everything of the user ended.
   */
  otherSessionsThan?: { sessionHash: string | null };
}

export interface AuthOptions {
  sessionTtlHours: number;
  throttle: LoginThrottle;
}

/** Logins, sessions, API tokens and accounts. No HTTP types here. */
export class AuthService {
  private userChanged: Array<(user: User) => void> = [];
  private accessEnded: Array<(e: AccessEnded) => void> = [];
  // Verifying against a real hash for unknown users keeps login time from revealing which usernames exist.
  private dummyHash = hashPassword(crypto.randomBytes(16).toString('hex'));
  // Each hash is ~60 ms of CPU and 32 MiB. Two at a time keeps a burst of logins from taking the
  // server, and the throttle is read after waiting, so a queued burst meets the lock it caused.
  private readonly hashing = new ConcurrencyGate(2);

  constructor(
    private readonly repo: AuthRepository,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly opts: AuthOptions,
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

  /**
   * Every attempt, known username or not, costs one database read and one password hash, so
   * neither the answer nor its time tells which usernames exist. A locked key is refused
   * before any hash is computed.
   */
  async login(username: string, password: string, ip?: string): Promise<{ user: User; session: string; expiresAt: Date }> {
    const keys = this.opts.throttle.keysFor(username, ip);
    return this.hashing.run(async () => {
      const wait = await this.opts.throttle.retryAfter(keys);
      if (wait > 0) throw rateLimited(`Too many failed sign-ins; try again in ${wait} s`, wait);
      const found = USERNAME.test(username) ? await this.repo.findUserForLogin(username) : null;
      const ok = await verifyPassword(password, found?.passwordHash ?? (await this.dummyHash));
      if (!found || !ok) {
        const locks = await this.opts.throttle.recordFailure(keys);
        await this.audit.record({ type: 'auth', action: 'login.failed', severity: 'warning', userId: found?.id, metadata: { username, ip } });
        for (const lock of locks) {
          await this.audit.record({
            type: 'auth', action: 'login.locked', severity: 'warning', userId: found?.id,
            metadata: { key: lock.key, seconds: lock.seconds, username, ip },
          });
        }
        throw new AppError(401, 'unauthenticated', 'Wrong username or password');
      }
      // Only someone holding the password learns that the account is disabled.
      if (found.disabled) throw forbidden('This account is disabled; ask an administrator');
      await this.opts.throttle.recordSuccess(username);
      const session = newSecret();
      const expiresAt = new Date(Date.now() + this.opts.sessionTtlHours * 3600_000);
      await this.repo.createSession(hashSecret(session), found.id, expiresAt);
      await this.repo.recordLogin(found.id);
      await this.audit.record({ type: 'auth', action: 'login', userId: found.id, metadata: { ip } });
      const { passwordHash: _, disabled: __, ...user } = found;
      return { user, session, expiresAt };
    });
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

  /**
   * The current password is checked like a login (same throttle), so a stolen session cannot
   * be used to guess it. Other sessions end; this one, tokens and everything else stay.
   */
  async changePassword(user: User, session: string | undefined, currentPassword: string, newPassword: string, ip?: string): Promise<void> {
    const keys = this.opts.throttle.keysFor(user.username, ip);
    await this.hashing.run(async () => {
      const wait = await this.opts.throttle.retryAfter(keys);
      if (wait > 0) throw rateLimited(`Too many wrong passwords; try again in ${wait} s`, wait);
      const stored = await this.repo.passwordHash(user.id);
      if (!stored || !(await verifyPassword(currentPassword, stored))) {
        await this.opts.throttle.recordFailure(keys);
        await this.audit.record({ type: 'auth', action: 'password.change_failed', severity: 'warning', userId: user.id, metadata: { ip } });
        throw forbidden('The current password is not right');
      }
    });
    if (currentPassword === newPassword) throw validationFailed('The new password is the same as the current one');
    const keep = session ? hashSecret(session) : undefined;
    await this.repo.setPassword(user.id, await hashPassword(newPassword), keep);
    await this.audit.record({ type: 'auth', action: 'password.change', userId: user.id, metadata: { ip } });
    this.endAccess({ userId: user.id, reason: 'Your password was changed in another session', otherSessionsThan: { sessionHash: keep ?? null } });
  }

  async createToken(user: User, name: string, expiresInDays: number | null = null) {
    const token = newSecret(TOKEN_PREFIX);
    const expiresAt = expiresInDays === null ? null : new Date(Date.now() + expiresInDays * 86_400_000);
    const row = await this.repo.createToken(user.id, name, hashSecret(token), expiresAt);
    await this.audit.record({ type: 'auth', action: 'token.create', userId: user.id, metadata: { tokenId: row.id, name, expiresAt } });
    return { ...row, token };
  }

  listTokens(user: User) {
    return this.repo.listTokens(user.id);
  }

  async deleteToken(user: User, id: string): Promise<void> {
    if (!(await this.repo.deleteToken(user.id, id))) throw notFound('Token');
    await this.audit.record({ type: 'auth', action: 'token.delete', userId: user.id, metadata: { tokenId: id } });
  }

  async listUsers(): Promise<Account[]> {
    const accounts = await this.repo.listAccounts();
    const locked = await this.opts.throttle.lockedUntil(accounts.map((a) => a.username));
    return accounts.map((a) => ({ ...a, lockedUntil: locked.get(a.username) ?? null }));
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
    if (actor.id === id && patch.role === 'user') throw conflict('You cannot take away your own admin role; ask another administrator');
    const account = await this.change(id, { kind: 'update', patch });
    await this.audit.record({ type: 'admin', action: 'user.update', userId: actor.id, metadata: { target: id, ...patch } });
    const { disabled: _, createdAt: __, lastLoginAt: ___, ...user } = account;
    for (const fn of this.userChanged) fn(user);
    return user;
  }

  /** Disabled: cannot sign in; sessions end, tokens stop working, terminals are detached. Jobs and history stay. */
  async setDisabled(actor: User, id: string, disabled: boolean) {
    if (actor.id === id) throw conflict('You cannot disable your own account');
    const account = await this.change(id, { kind: disabled ? 'disable' : 'enable' });
    await this.audit.record({ type: 'admin', action: disabled ? 'user.disable' : 'user.enable', userId: actor.id, metadata: { target: id, username: account.username } });
    if (disabled) this.endAccess({ userId: id, reason: 'Your account was disabled by an administrator' });
    return this.withLock(account);
  }

  /**
   * The account row stays (jobs, audit events and the ledger still name it) but it can never
   * sign in again and its name is free. Refused while the user owns machines.
   */
  async deleteUser(actor: User, id: string): Promise<void> {
    if (actor.id === id) throw conflict('You cannot delete your own account');
    const vms = await this.repo.liveVmCount(id);
    if (vms > 0) throw conflict(`The user still owns ${vms} VM${vms === 1 ? '' : 's'}; destroy them first`, { vms });
    const account = await this.change(id, { kind: 'delete' });
    await this.opts.throttle.clear(account.username);
    await this.audit.record({ type: 'admin', action: 'user.delete', userId: actor.id, metadata: { target: id, username: account.username } });
    this.endAccess({ userId: id, reason: 'Your account was deleted' });
  }

  /** An admin sets a new password: every session of that user ends and a lockout is lifted. */
  async resetPassword(actor: User, id: string, newPassword: string): Promise<void> {
    const account = await this.repo.findAccount(id);
    if (!account) throw notFound('User');
    await this.repo.setPassword(id, await hashPassword(newPassword));
    await this.opts.throttle.clear(account.username);
    await this.audit.record({ type: 'admin', action: 'user.password_reset', userId: actor.id, metadata: { target: id, username: account.username } });
    this.endAccess({ userId: id, reason: 'Your password was reset by an administrator' });
  }

  async account(id: string): Promise<Account> {
    const account = await this.repo.findAccount(id);
    if (!account) throw notFound('User');
    return this.withLock(account);
  }

  /** Lets a locked-out user try again at once. */
  async unlock(actor: User, id: string): Promise<Account> {
    const account = await this.repo.findAccount(id);
    if (!account) throw notFound('User');
    await this.opts.throttle.clear(account.username);
    await this.audit.record({ type: 'admin', action: 'user.unlock', userId: actor.id, metadata: { target: id, username: account.username } });
    return { ...account, lockedUntil: null };
  }

  /** Calls `fn` with the new state of an account an admin changed (role, terminal permission …). */
  onUserChanged(fn: (user: User) => void): void {
    this.userChanged.push(fn);
  }

  /** Calls `fn` when a user's sessions end server-side, so live sockets and terminals can follow. */
  onAccessEnded(fn: (e: AccessEnded) => void): void {
    this.accessEnded.push(fn);
  }

  private endAccess(e: AccessEnded): void {
    for (const fn of this.accessEnded) {
      try {
        fn(e);
      } catch (err) {
        this.log.error({ err, userId: e.userId }, 'ending live access failed');
      }
    }
  }

  private async change(id: string, change: AccountChange) {
    try {
      const account = await this.repo.changeAccount(id, change);
      if (!account) throw notFound('User');
      return account;
    } catch (err) {
      if (err instanceof LastAdminError) throw conflict(err.message);
      throw err;
    }
  }

  private async withLock(account: Omit<Account, 'lockedUntil'>): Promise<Account> {
    const locked = await this.opts.throttle.lockedUntil([account.username]);
    return { ...account, lockedUntil: locked.get(account.username) ?? null };
  }
}
