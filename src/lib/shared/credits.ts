/** Credit ledger, quota and audit feed shapes, shared by the server and the UI. */

export interface QuotaLimits {
  /** null = no limit. VMs and disk count every VM that exists; running, vCPUs and memory count VMs that can be running. */
  maxVms: number | null;
  maxRunning: number | null;
  vcpus: number | null;
  memoryMb: number | null;
  diskGb: number | null;
  lifetimeHours: number | null;
  autoStopMinutes: number | null;
}

export interface QuotaUsage {
  vms: number;
  running: number;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
}

/** `GET /api/credits` (and an admin's view of any user). */
export interface CreditsView {
  /** posted - held: what can be spent now. */
  balance: number;
  posted: number;
  /** Held for VMs being provisioned (posted when they run, given back when they fail). */
  held: number;
  tier: string;
  quota: QuotaLimits;
  usage: QuotaUsage;
}

export type LedgerKind = 'grant' | 'adjustment' | 'hold' | 'post' | 'void' | 'runtime';

/** One ledger entry: `amount` moves the posted credits, `held` the held ones. */
export interface LedgerEntry {
  id: string;
  kind: LedgerKind;
  amount: number;
  held: number;
  reason: string;
  vmId: string | null;
  jobId: string | null;
  actorId: string | null;
  createdAt: string;
}

export interface LedgerPage {
  entries: LedgerEntry[];
  next: string | null;
}

export interface QuoteReason {
  code: 'insufficient_credits' | 'quota_exceeded';
  limit: 'credits' | keyof QuotaLimits;
  requested: number;
  used: number;
  max: number;
  message: string;
}

/** `POST /api/vms/quote {vcpus, memoryMb, diskGb}`. */
export interface Quote {
  cost: number;
  balance: number;
  allowed: boolean;
  reasons: QuoteReason[];
}

/** `POST /api/admin/credits/audit`. */
export interface CreditAuditReport {
  ok: boolean;
  findings: Array<{ check: string; userId: string | null; detail: string }>;
  checkedAt: string;
}

export type AuditType = 'vm' | 'system' | 'admin' | 'auth' | 'job';
export type AuditSeverity = 'info' | 'warning' | 'critical';

/** One event of the audit feed (`GET /api/events`, `GET /api/admin/events`). */
export interface AuditEvent {
  id: number;
  type: AuditType;
  action: string;
  severity: AuditSeverity;
  metadata: Record<string, unknown>;
  userId: string | null;
  username?: string | null;
  createdAt: string;
}

export interface AuditPage {
  events: AuditEvent[];
  next: number | null;
}

export const TIER_NAMES = ['free', 'pro', 'unlimited'] as const;
