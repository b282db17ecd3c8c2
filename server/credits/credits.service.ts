import type { User } from '../../src/lib/shared/auth.ts';
import type { CreditsView } from '../../src/lib/shared/credits.ts';
import type { AuditLog } from '../platform/audit.ts';
import { withTransaction, type Db } from '../platform/db.ts';
import { AppError, notFound, validationFailed } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import type { VmAction } from '../../src/lib/shared/vms.ts';
import { refusals } from './credit-admission.ts';
import type { AccountRow, EntryRow, LedgerRepository } from './ledger.repository.ts';
import { vmCost, type VmSize } from './pricing.ts';
import { LIMIT_NAMES, limitsFor, TIER_NAMES, type QuotaLimits } from './tiers.ts';

export interface CreditsOptions {
  /** Credits a new account starts with. */
  startingGrant: number;
  /** A provision that failed for good gives its credits back (true) or keeps them charged (false). */
  refundOnFailure: boolean;
  /** Runtime metering: credits per full running hour, by tier; empty = off. */
  runtimeRates?: Record<string, number>;
  /** How long after the "credits ran out" warning a still-unpaid VM is stopped. */
  runtimeGraceMs?: number;
}

/** What one metering pass did, for logs and tests. */
export interface MeterReport {
  charged: Array<{ vmId: string; credits: number; hours: number }>;
  warned: string[];
  stopped: string[];
}


export interface AuditFinding {
  check: string;
  userId: string | null;
  detail: string;
}

/**
 * Balances, quotes, grants, the settling of holds (post on success, void or post on failure,
 * void when the VM goes before it was provisioned), the sweeper of expired holds, and the
 * auditor that recomputes every cached number from its source.
 */
export class CreditsService {
  constructor(
    private readonly db: Db,
    private readonly ledger: LedgerRepository,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly opts: CreditsOptions,
  ) {}

  /** The account (made on first use, with the starting grant) and its limits. */
  async view(user: Pick<User, 'id' | 'tier'>): Promise<CreditsView> {
    await this.ensure(user.id);
    const a = (await this.ledger.account(user.id))!;
    return {
      balance: a.posted - a.held, posted: a.posted, held: a.held, tier: user.tier,
      quota: limitsFor(user.tier, await this.ledger.overrides(user.id)),
      usage: { vms: a.vms, running: a.running, vcpus: a.vcpus, memoryMb: a.memoryMb, diskGb: a.diskGb },
    };
  }

  /** `POST /api/vms/quote`: the price, the balance, and every reason the create would be refused now. */
  async quote(user: User, size: VmSize) {
    const view = await this.view(user);
    const cost = vmCost(size);
    const account = { userId: user.id, posted: view.posted, held: view.held, ...view.usage } as AccountRow;
    const reasons = refusals(account, view.quota, size, cost).map((r) => ({ code: r.code, limit: r.limit, requested: r.requested, used: r.used, max: r.max, message: r.message }));
    return { cost, balance: view.balance, allowed: reasons.length === 0, reasons };
  }

  async entries(userId: string, before: number | null, limit: number): Promise<{ entries: ReturnType<typeof toEntry>[]; next: string | null }> {
    await this.ensure(userId);
    const rows = await this.ledger.entries(userId, before, limit + 1);
    const page = rows.slice(0, limit).map(toEntry);
    return { entries: page, next: rows.length > limit ? String(rows[limit - 1].id) : null };
  }

  /** An administrator grants (positive) or takes back (negative) credits, with a reason; never below zero available. */
  async adjust(admin: User, userId: string, amount: number, reason: string): Promise<CreditsView> {
    if (!Number.isInteger(amount) || amount === 0 || Math.abs(amount) > 1e9) throw validationFailed('amount: a whole number of credits, not 0');
    if (!reason.trim()) throw validationFailed('reason is required');
    const user = await this.userRow(userId);
    await this.ensure(userId);
    const entry = await withTransaction(this.db, async (c) => {
      const e = await this.ledger.apply(c, { userId, kind: amount > 0 ? 'grant' : 'adjustment', postedDelta: amount, reason: reason.trim(), actorId: admin.id });
      if (e) await this.audit.recordIn(c, { type: 'admin', action: 'credits.adjust', userId: admin.id, metadata: { userId, amount, reason } });
      return e;
    });
    if (!entry) {
      const a = (await this.ledger.account(userId))!;
      throw new AppError(409, 'conflict', `That would leave ${a.posted - a.held + amount} credits available; the balance cannot go below zero`, { balance: a.posted - a.held });
    }
    return this.view(user);
  }

  /**
   * An administrator sets a user's tier and per-limit overrides: a number replaces the tier's
   * limit, null means no limit; `reset` drops every override first (back to the tier's limits).
   */
  async setQuota(admin: User, userId: string, body: { tier?: string; reset?: boolean; overrides?: Record<string, number | null> }): Promise<CreditsView> {
    await this.userRow(userId);
    if (body.tier !== undefined && !TIER_NAMES.includes(body.tier as never)) throw validationFailed(`tier: one of ${TIER_NAMES.join(', ')}`);
    const overrides: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(body.overrides ?? {})) {
      if (v === undefined) continue;
      if (!LIMIT_NAMES.includes(k as keyof QuotaLimits)) throw validationFailed(`unknown limit ${k} (one of ${LIMIT_NAMES.join(', ')})`);
      if (v !== null && (!Number.isInteger(v) || v < 0)) throw validationFailed(`${k}: a whole number, or null for no limit`);
      overrides[k] = v;
    }
    await this.db.query(
      `UPDATE users SET tier = COALESCE($2, tier), quota_overrides = CASE WHEN $4 THEN '{}'::jsonb ELSE quota_overrides END || $3::jsonb WHERE id = $1`,
      [userId, body.tier ?? null, JSON.stringify(overrides), body.reset === true],
    );
    await this.audit.record({ type: 'admin', action: 'credits.quota', userId: admin.id, metadata: { userId, tier: body.tier ?? null, overrides, reset: body.reset === true } });
    return this.view(await this.userRow(userId));
  }

  /** The VM engine's hook: a create's hold is posted or voided once; a VM destroyed before being provisioned gets its hold back. */
  readonly settled = async (vm: { id: string; ownerId: string | null }, action: VmAction, outcome: 'succeeded' | 'failed'): Promise<void> => {
    if (action === 'create') {
      const post = outcome === 'succeeded' || !this.opts.refundOnFailure;
      await this.resolve(vm.id, post ? 'posted' : 'voided', outcome === 'succeeded' ? 'VM provisioned' : post ? 'provision failed (no refund)' : 'provision failed: refunded');
    } else if (action === 'destroy') {
      await this.resolve(vm.id, 'voided', 'VM destroyed before it was provisioned');
    }
  };

  /**
   * Runtime metering (when rates are set): each running VM is charged its tier's rate per full
   * hour run since it was last charged, as a `runtime` entry. When the owner cannot pay, they
   * get a warning event; if they still cannot after the grace period, the VM is stopped.
   */
  async meter(stop: (vmId: string, reason: string) => Promise<void>): Promise<MeterReport> {
    const report: MeterReport = { charged: [], warned: [], stopped: [] };
    const rates = this.opts.runtimeRates ?? {};
    if (!Object.values(rates).some((r) => r > 0)) return report;
    const { rows } = await this.db.query(
      `SELECT v.id, v.name, v.owner_id AS "ownerId", u.tier, v.credit_warned_at AS "warnedAt",
              GREATEST(v.running_since, COALESCE(v.metered_until, v.running_since)) AS "from",
              floor(EXTRACT(EPOCH FROM now() - GREATEST(v.running_since, COALESCE(v.metered_until, v.running_since))) / 3600)::int AS hours
       FROM vms v JOIN users u ON u.id = v.owner_id WHERE v.state = 'running' AND v.running_since IS NOT NULL`,
    );
    for (const vm of rows) {
      const rate = rates[vm.tier] ?? 0;
      if (rate <= 0 || vm.hours < 1) continue;
      const credits = rate * vm.hours;
      const paid = await withTransaction(this.db, async (c) => {
        const entry = await this.ledger.apply(c, {
          userId: vm.ownerId, kind: 'runtime', postedDelta: -credits, vmId: vm.id,
          reason: `${vm.hours} h running at ${rate} credits/h (${vm.tier})`,
        });
        if (!entry) return false;
        await this.audit.recordIn(c, { type: 'vm', action: 'credits.runtime', userId: vm.ownerId, metadata: { vmId: vm.id, hours: vm.hours, amount: credits } });
        await c.query(`UPDATE vms SET metered_until = $2::timestamptz + make_interval(hours => $3), credit_warned_at = NULL WHERE id = $1`, [vm.id, vm.from, vm.hours]);
        return true;
      });
      if (paid) {
        report.charged.push({ vmId: vm.id, credits, hours: vm.hours });
      } else if (!vm.warnedAt) {
        await this.db.query(`UPDATE vms SET credit_warned_at = now() WHERE id = $1`, [vm.id]);
        await this.audit.record({
          type: 'vm', action: 'credits.runtime_exhausted', severity: 'warning', userId: vm.ownerId,
          metadata: { vmId: vm.id, name: vm.name, owed: credits, message: `Your credits do not cover VM ${vm.name}'s runtime; it will be stopped unless credits are added` },
        });
        report.warned.push(vm.id);
      } else if (Date.now() - new Date(vm.warnedAt).getTime() >= (this.opts.runtimeGraceMs ?? 0)) {
        await stop(vm.id, `its owner's credits do not cover its runtime (${credits} credits owed)`);
        report.stopped.push(vm.id);
      }
    }
    return report;
  }

  /** Voids holds past their expiry (a provision that never reported back), each with an audit event. */
  async sweep(): Promise<number> {
    let n = 0;
    for (const h of await this.ledger.expiredHolds()) {
      if (await this.resolve(null, 'voided', 'hold expired', h.id)) {
        n++;
        await this.audit.record({ type: 'system', action: 'credits.hold_expired', severity: 'warning', userId: h.userId, metadata: { holdId: h.id, vmId: h.vmId, amount: h.amount } });
      }
    }
    return n;
  }

  /** Recomputes every cached number from its source; any drift is a critical audit event. */
  async runAudit(actorId: string | null = null): Promise<{ ok: boolean; findings: AuditFinding[]; checkedAt: string }> {
    const findings: AuditFinding[] = [];
    const q = async (check: string, sql: string) => {
      for (const r of (await this.db.query(sql)).rows) findings.push({ check, userId: r.user_id ?? null, detail: r.detail });
    };
    await q('posted equals the entries', `SELECT a.user_id, format('cached %s, entries say %s', a.posted, COALESCE(e.s, 0)) AS detail
      FROM credit_accounts a LEFT JOIN (SELECT user_id, sum(posted_delta) s FROM credit_entries GROUP BY user_id) e USING (user_id)
      WHERE a.posted <> COALESCE(e.s, 0)`);
    await q('held equals the entries', `SELECT a.user_id, format('cached %s, entries say %s', a.held, COALESCE(e.s, 0)) AS detail
      FROM credit_accounts a LEFT JOIN (SELECT user_id, sum(held_delta) s FROM credit_entries GROUP BY user_id) e USING (user_id)
      WHERE a.held <> COALESCE(e.s, 0)`);
    await q('held equals the open holds', `SELECT a.user_id, format('cached %s, open holds %s', a.held, COALESCE(h.s, 0)) AS detail
      FROM credit_accounts a LEFT JOIN (SELECT user_id, sum(amount) s FROM credit_holds WHERE state = 'pending' GROUP BY user_id) h USING (user_id)
      WHERE a.held <> COALESCE(h.s, 0)`);
    await q('quota counters equal the VMs', `SELECT a.user_id, format('cached %s/%s/%s/%s/%s, VMs say %s/%s/%s/%s/%s', a.vms, a.running, a.vcpus, a.memory_mb, a.disk_gb,
        COALESCE(c.vms, 0), COALESCE(c.running, 0), COALESCE(c.cpu, 0), COALESCE(c.mem, 0), COALESCE(c.disk, 0)) AS detail
      FROM credit_accounts a LEFT JOIN (
        SELECT owner_id AS user_id, sum(w.vms) vms, sum(w.running) running, sum(w.cpu) cpu, sum(w.mem) mem, sum(w.disk) disk
        FROM vms, LATERAL vm_quota_weights(vms.state, vms.vcpus, vms.memory_mb, vms.disk_gb) w GROUP BY owner_id) c USING (user_id)
      WHERE (a.vms, a.running, a.vcpus, a.memory_mb, a.disk_gb) <> (COALESCE(c.vms, 0), COALESCE(c.running, 0), COALESCE(c.cpu, 0), COALESCE(c.mem, 0), COALESCE(c.disk, 0))`);
    await q('no hold past its expiry', `SELECT user_id, format('hold %s of %s credits expired at %s', id, amount, expires_at) AS detail
      FROM credit_holds WHERE state = 'pending' AND expires_at < now()`);
    await q('no VM provisioning without a hold', `SELECT v.owner_id AS user_id, format('VM %s (%s) is %s with no pending hold', v.name, v.id, v.state) AS detail
      FROM vms v WHERE v.state IN ('requested', 'provisioning') AND v.owner_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM credit_holds h WHERE h.vm_id = v.id AND h.state = 'pending')`);
    const checkedAt = new Date().toISOString();
    for (const f of findings) {
      await this.audit.record({ type: 'system', action: 'credits.drift', severity: 'critical', userId: f.userId, metadata: { check: f.check, detail: f.detail } });
    }
    if (actorId) await this.audit.record({ type: 'admin', action: 'credits.audit', userId: actorId, metadata: { findings: findings.length } });
    if (findings.length) this.log.error({ findings }, 'credit ledger drift');
    return { ok: findings.length === 0, findings, checkedAt };
  }

  private async resolve(vmId: string | null, to: 'posted' | 'voided', reason: string, holdId?: string): Promise<boolean> {
    return withTransaction(this.db, async (c) => {
      const holds = await this.ledger.resolveHold(c, vmId ? { vmId } : { holdId }, to);
      for (const h of holds) {
        const entry = await this.ledger.apply(c, {
          userId: h.userId, kind: to === 'posted' ? 'post' : 'void',
          postedDelta: to === 'posted' ? -h.amount : 0, heldDelta: -h.amount, reason, vmId: h.vmId, holdId: h.id,
        });
        if (!entry) throw new Error(`settling hold ${h.id} would overdraw its account`);
        await this.audit.recordIn(c, {
          type: 'vm', action: to === 'posted' ? 'credits.post' : 'credits.void', userId: h.userId,
          metadata: { vmId: h.vmId, holdId: h.id, amount: h.amount, reason },
        });
      }
      return holds.length > 0;
    });
  }

  /** Makes the account on first use and gives it the starting grant (admission calls it before its transaction). */
  async ensure(userId: string): Promise<void> {
    if (!(await this.ledger.account(userId)) || !(await this.hasEntries(userId))) {
      await withTransaction(this.db, async (c) => {
        await this.ledger.ensureAccount(userId, c);
        // Under the account's lock: two first uses grant once.
        await c.query('SELECT 1 FROM credit_accounts WHERE user_id = $1 FOR UPDATE', [userId]);
        const { rows } = await c.query(`SELECT 1 FROM credit_entries WHERE user_id = $1 AND kind = 'grant' AND actor_id IS NULL LIMIT 1`, [userId]);
        if (!rows.length && this.opts.startingGrant > 0) {
          await this.ledger.apply(c, { userId, kind: 'grant', postedDelta: this.opts.startingGrant, reason: 'starting grant' });
          await this.audit.recordIn(c, { type: 'system', action: 'credits.grant', userId, metadata: { amount: this.opts.startingGrant, reason: 'starting grant' } });
        }
      });
    }
  }

  private async hasEntries(userId: string): Promise<boolean> {
    const { rows } = await this.db.query(`SELECT 1 FROM credit_entries WHERE user_id = $1 LIMIT 1`, [userId]);
    return rows.length > 0;
  }

  /** Any user's account, for administrators (404 for an unknown user). */
  async viewOf(userId: string): Promise<CreditsView> {
    return this.view(await this.userRow(userId));
  }

  private async userRow(id: string): Promise<{ id: string; tier: string }> {
    const { rows } = /^[0-9a-f-]{36}$/i.test(id) ? await this.db.query(`SELECT id, tier FROM users WHERE id = $1`, [id]) : { rows: [] };
    if (!rows[0]) throw notFound('User');
    return rows[0];
  }
}

function toEntry(e: EntryRow) {
  return {
    id: String(e.id), kind: e.kind, amount: e.postedDelta, held: e.heldDelta, reason: e.reason,
    vmId: e.vmId, jobId: e.jobId, actorId: e.actorId, createdAt: e.createdAt,
  };
}
