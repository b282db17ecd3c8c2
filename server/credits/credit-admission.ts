import type pg from 'pg';
import type { QuoteReason } from '../../src/lib/shared/credits.ts';
import type { AuditLog } from '../platform/audit.ts';
import { AppError } from '../platform/errors.ts';
import type { AdmissionRequest, VmAdmission } from '../vms/vm-admission.ts';
import type { AccountRow, LedgerRepository } from './ledger.repository.ts';
import { vmCost } from './pricing.ts';
import { limitsFor, type QuotaLimits } from './tiers.ts';

/** One reason a create would be refused, with what it asked, what is used and the limit. */
export type Refusal = QuoteReason;

/** Every reason a create of `req` would be refused now, judged on `account` (the quote uses this too). */
export function refusals(account: AccountRow, limits: QuotaLimits, req: Omit<AdmissionRequest, 'user' | 'provider'>, cost: number): Refusal[] {
  const out: Refusal[] = [];
  const balance = account.posted - account.held;
  if (balance < cost) {
    out.push({
      code: 'insufficient_credits', limit: 'credits', requested: cost, used: account.held, max: balance,
      message: `This VM costs ${cost} credits and ${balance} are available${account.held ? ` (${account.held} held for VMs being provisioned)` : ''}`,
    });
  }
  const check = (limit: keyof QuotaLimits, what: string, requested: number, used: number) => {
    const max = limits[limit];
    if (max !== null && used + requested > max) {
      out.push({ code: 'quota_exceeded', limit, requested, used, max, message: `${what}: ${used} of ${max} in use, this VM needs ${requested}` });
    }
  };
  check('maxVms', 'VMs', 1, account.vms);
  check('maxRunning', 'Running VMs', 1, account.running);
  check('vcpus', 'vCPUs', req.vcpus, account.vcpus);
  check('memoryMb', 'Memory (MB)', req.memoryMb, account.memoryMb);
  check('diskGb', 'Disk (GB)', req.diskGb, account.diskGb);
  return out;
}

export function refusalError(r: Refusal): AppError {
  const { code, limit, requested, used, max } = r;
  return new AppError(code === 'insufficient_credits' ? 402 : 403, code, r.message, { limit, requested, used, max });
}

export interface CreditAdmissionOptions {
  /** How long a hold lives before the sweeper voids it (a provision that never reported back). */
  holdTtlMinutes: number;
}

/**
 * Credits and quotas at admission, in ONE guarded UPDATE of the user's account row: it checks
 * the balance and every quota counter and places the hold, or changes nothing. Under READ
 * COMMITTED a racing admission waits on the row lock and re-checks the WHERE against the
 * committed counters (which the VM insert's trigger moved in the winner's transaction), so
 * exactly as many creates pass as fit. The hold row and its entry follow in the same
 * transaction; the VM row, its create and its job are inserted by the caller after this.
 */
export class CreditAdmission implements VmAdmission {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly opts: CreditAdmissionOptions,
    /** Makes the account (with its starting grant) on first use. */
    private readonly ensureAccount: (userId: string) => Promise<void>,
    private readonly audit: AuditLog,
  ) {}

  async prepare(req: AdmissionRequest): Promise<void> {
    await this.ensureAccount(req.user.id);
  }

  async admit(c: pg.PoolClient, req: AdmissionRequest): Promise<void> {
    const userId = req.user.id;
    await this.ledger.ensureAccount(userId, c);
    const limits = limitsFor(req.user.tier, await this.ledger.overrides(userId, c));
    const cost = vmCost(req);
    const { rowCount } = await c.query(
      `UPDATE credit_accounts SET held = held + $2, updated_at = now()
       WHERE user_id = $1 AND posted - held >= $2
         AND ($3::int IS NULL OR vms + 1 <= $3) AND ($4::int IS NULL OR running + 1 <= $4)
         AND ($5::int IS NULL OR vcpus + $6 <= $5) AND ($7::int IS NULL OR memory_mb + $8 <= $7)
         AND ($9::int IS NULL OR disk_gb + $10 <= $9)`,
      [userId, cost, limits.maxVms, limits.maxRunning, limits.vcpus, req.vcpus, limits.memoryMb, req.memoryMb, limits.diskGb, req.diskGb],
    );
    if (rowCount !== 1) {
      // Refused: say why, from the row as it is now (the same lock the racers waited on).
      const account = (await this.ledger.account(userId, c))!;
      const why = refusals(account, limits, req, cost);
      throw refusalError(why[0] ?? { code: 'quota_exceeded', limit: 'maxVms', requested: 1, used: account.vms, max: limits.maxVms ?? 0, message: 'A quota does not allow this VM' });
    }
    pendingHolds.set(c, { userId, cost, ttl: this.opts.holdTtlMinutes });
  }

  /**
   * A start must fit the running, vCPU and memory quotas of the VM's owner. Judged under the
   * account's row lock against the counters plus starts asked for the owner's VMs that are
   * still stopped (the counters take them once the worker moves the VM to `starting`), so two
   * starts asked at once cannot both pass a limit only one fits.
   */
  async allowStart(c: pg.PoolClient, vm: { ownerId: string | null; vcpus: number; memoryMb: number }): Promise<void> {
    if (!vm.ownerId) return;
    await this.ledger.ensureAccount(vm.ownerId, c);
    const { rows: users } = await c.query(`SELECT tier, quota_overrides AS o FROM users WHERE id = $1`, [vm.ownerId]);
    if (!users[0]) return;
    const limits = limitsFor(users[0].tier, users[0].o);
    // Lock first, count after, in two statements: a statement's snapshot is taken when it
    // starts, so a count in the locking statement would miss what the racer we waited for
    // committed.
    await c.query(`SELECT 1 FROM credit_accounts WHERE user_id = $1 FOR UPDATE`, [vm.ownerId]);
    const { rows } = await c.query(
      `SELECT a.running + q.n AS running, a.vcpus + q.cpu AS vcpus, a.memory_mb + q.mem AS "memoryMb"
       FROM credit_accounts a,
            (SELECT count(*)::int AS n, COALESCE(sum(v.vcpus), 0)::int AS cpu, COALESCE(sum(v.memory_mb), 0)::int AS mem
             FROM vm_operations o JOIN vms v ON v.id = o.vm_id
             WHERE v.owner_id = $1 AND o.action = 'start' AND o.status IN ('queued', 'running') AND v.state IN ('stopped', 'error')) q
       WHERE a.user_id = $1`,
      [vm.ownerId],
    );
    const used = rows[0];
    const over = ([
      ['maxRunning', 'Running VMs', 1, used.running],
      ['vcpus', 'vCPUs', vm.vcpus, used.vcpus],
      ['memoryMb', 'Memory (MB)', vm.memoryMb, used.memoryMb],
    ] as const).find(([limit, , requested, inUse]) => limits[limit] !== null && inUse + requested > limits[limit]!);
    if (over) {
      const [limit, what, requested, inUse] = over;
      throw refusalError({ code: 'quota_exceeded', limit, requested, used: inUse, max: limits[limit]!, message: `${what}: ${inUse} of ${limits[limit]} in use, starting this VM needs ${requested}` });
    }
  }

  /** Called by the create once the VM row exists: the hold row and its entry, in the same transaction. */
  async placed(c: pg.PoolClient, vmId: string, jobId: string): Promise<void> {
    const pending = pendingHolds.get(c);
    if (!pending) return;
    pendingHolds.delete(c);
    const holdId = await this.ledger.insertHold(c, pending.userId, vmId, pending.cost, pending.ttl);
    await c.query(
      `INSERT INTO credit_entries (user_id, kind, held_delta, reason, actor_id, vm_id, job_id, hold_id)
       VALUES ($1, 'hold', $2, $3, $1, $4, $5, $6)`,
      [pending.userId, pending.cost, `held for provisioning`, vmId, jobId, holdId],
    );
    await this.audit.recordIn(c, { type: 'vm', action: 'credits.hold', userId: pending.userId, metadata: { vmId, holdId, amount: pending.cost } });
  }
}

/** Holds admitted on a transaction whose VM row is not inserted yet (keyed by the transaction's client). */
const pendingHolds = new WeakMap<pg.PoolClient, { userId: string; cost: number; ttl: number }>();
