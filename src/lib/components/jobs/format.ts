import type { Job } from '$lib/shared/jobs';

/** `850 ms`, `12.3 s`, `4 m 05 s`, `2 h 03 m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.floor(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h) return `${h} h ${String(m).padStart(2, '0')} m`;
  return `${m} m ${String(sec).padStart(2, '0')} s`;
}

/** Run time of a job: start to finish, or start to `now` while it runs. Null before it started. */
export function jobDurationMs(job: Pick<Job, 'startedAt' | 'finishedAt' | 'createdAt'>, now: number): number | null {
  const start = job.startedAt ?? null;
  if (!start) return null;
  const end = job.finishedAt ? Date.parse(job.finishedAt) : now;
  return Math.max(0, end - Date.parse(start));
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const dayTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** Full local date and time, for titles and detail views. */
export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

/** Compact: the time for today, otherwise the day and time. */
export function formatWhen(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return new Date(now).toDateString() === d.toDateString() ? timeOnly.format(d) : dayTime.format(d);
}

/** `just now`, `5 min ago`, `3 h ago`, then a date. */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return dayTime.format(new Date(iso));
}
