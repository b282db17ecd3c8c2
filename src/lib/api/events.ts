import type { AuditPage, AuditSeverity, AuditType } from '$lib/shared/credits';
import { api } from './client';

type Fetch = typeof fetch;

export const AUDIT_TYPES: readonly AuditType[] = ['vm', 'system', 'admin', 'auth', 'job'];
export const AUDIT_SEVERITIES: readonly AuditSeverity[] = ['info', 'warning', 'critical'];

/** Filters of the audit feed; empty ones are left out of the query. */
export interface AuditFilters {
  type?: AuditType | '';
  severity?: AuditSeverity | '';
  /** A prefix: `vm.` matches every VM action. */
  action?: string;
  /** ISO datetimes: from `since` (inclusive) to `until` (exclusive). */
  since?: string;
  until?: string;
  /** Admins, everyone's feed only: one user's events (a uuid). */
  user?: string;
}

function query(filters: AuditFilters, before: string | number | null, limit: number): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (typeof v === 'string' && v.trim()) params.set(k, v.trim());
  if (before !== null) params.set('before', String(before));
  params.set('limit', String(limit));
  return params.toString();
}

/** Typed calls for the audit feed: your own events, or (admins) everyone's. */
export const eventsApi = {
  /** `everyone` reads `/api/admin/events` (admins only); otherwise the caller's own events, where `user` is ignored. */
  list: (everyone: boolean, filters: AuditFilters, before: string | number | null = null, limit = 50, f?: Fetch) => {
    const { user, ...own } = filters;
    return everyone
      ? api.get<AuditPage>(`/admin/events?${query({ ...own, user }, before, limit)}`, f)
      : api.get<AuditPage>(`/events?${query(own, before, limit)}`, f);
  },
};
