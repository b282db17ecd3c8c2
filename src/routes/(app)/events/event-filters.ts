import { AUDIT_SEVERITIES, AUDIT_TYPES, type AuditFilters } from '$lib/api/events';
import type { AuditSeverity, AuditType } from '$lib/shared/credits';

/**
 * The page's filters as the URL holds them (the URL is their truth: a reload, the back button
 * or a shared link shows the same view). Dates are whole local days; the API wants instants.
 */
export interface EventFilters {
  /** Admins: everyone's feed instead of their own. */
  everyone: boolean;
  user: string;
  type: AuditType | '';
  severity: AuditSeverity | '';
  action: string;
  /** `YYYY-MM-DD`, local days, both inclusive. */
  since: string;
  until: string;
}

export const EVENTS_PAGE_SIZE = 50;

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads the URL, dropping what the API would refuse (an unknown type, a malformed day or user id). */
export function readFilters(params: URLSearchParams, isAdmin: boolean): EventFilters {
  const pick = <T extends string>(value: string | null, allowed: readonly T[]): T | '' => (allowed.includes(value as T) ? (value as T) : '');
  const day = (v: string | null) => (v && DAY.test(v) && !Number.isNaN(Date.parse(v)) ? v : '');
  const everyone = isAdmin && params.get('everyone') === '1';
  const user = params.get('user') ?? '';
  return {
    everyone,
    user: everyone && UUID.test(user) ? user : '',
    type: pick(params.get('type'), AUDIT_TYPES),
    severity: pick(params.get('severity'), AUDIT_SEVERITIES),
    action: (params.get('action') ?? '').trim().slice(0, 100),
    since: day(params.get('since')),
    until: day(params.get('until')),
  };
}

/** Local midnight of a day, `days` later, as an ISO instant. */
function startOfDay(day: string, days = 0): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

/** What the API is asked: `until` is exclusive there, so the chosen day is included by asking for the next midnight. */
export function apiFilters(f: EventFilters): AuditFilters {
  return {
    type: f.type,
    severity: f.severity,
    action: f.action,
    since: f.since ? startOfDay(f.since) : '',
    until: f.until ? startOfDay(f.until, 1) : '',
    user: f.user,
  };
}

/** The query string for `f` (empty filters left out), with its leading `?` when not empty. */
export function filterSearch(f: EventFilters): string {
  const params = new URLSearchParams();
  if (f.everyone) params.set('everyone', '1');
  for (const key of ['user', 'type', 'severity', 'action', 'since', 'until'] as const) {
    if (key === 'user' && !f.everyone) continue;
    if (f[key].trim()) params.set(key, f[key].trim());
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export const anyFilter = (f: EventFilters) => !!(f.user || f.type || f.severity || f.action || f.since || f.until);
