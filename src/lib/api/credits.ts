import type { CreditAuditReport, CreditsView, LedgerPage, QuotaLimits } from '$lib/shared/credits';
import { api } from './client';

type Fetch = typeof fetch;

/** `GET /api/admin/users/:id/credits`: a user's account with the first page of their ledger. */
export type UserCredits = CreditsView & { ledger: LedgerPage };

/**
 * `PUT /api/admin/users/:id/quota`: a number replaces the tier's limit, null means no limit, an
 * absent limit stays as it is; `reset` drops every override before these apply.
 */
export type QuotaChange = { tier?: string; reset?: boolean } & Partial<QuotaLimits>;

function ledgerQuery(before: string | null, limit: number): string {
  return before ? `?before=${encodeURIComponent(before)}&limit=${limit}` : `?limit=${limit}`;
}

const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

/** Typed calls for the caller's credits and the administrators' accounts, grants, quotas and auditor. */
export const creditsApi = {
  mine: (f?: Fetch) => api.get<CreditsView>('/credits', f),
  /** Newest first; `before` is the previous page's `next`. */
  ledger: (before: string | null = null, limit = 50, f?: Fetch) => api.get<LedgerPage>(`/credits/ledger${ledgerQuery(before, limit)}`, f),

  userCredits: (id: string, before: string | null = null, limit = 50, f?: Fetch) =>
    api.get<UserCredits>(`${userPath(id)}/credits${ledgerQuery(before, limit)}`, f),
  /** A positive amount grants, a negative one takes back (409 when the balance would go below zero). */
  adjust: (id: string, amount: number, reason: string) => api.post<CreditsView>(`${userPath(id)}/credits`, { amount, reason }),
  setQuota: (id: string, change: QuotaChange) => api.put<CreditsView>(`${userPath(id)}/quota`, change),
  /** Recomputes every cached balance and counter now; findings are drift. */
  audit: () => api.post<CreditAuditReport>('/admin/credits/audit'),
};
