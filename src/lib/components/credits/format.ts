import { formatMemory } from '$lib/components/vms/format';
import type { CreditsView, LedgerKind, QuotaLimits, QuotaUsage } from '$lib/shared/credits';

const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** `1,250`: credits are whole numbers. */
export function formatCredits(n: number): string {
  return whole.format(n);
}

/** `+50`, `−22`, `0`: a ledger movement, with a real minus sign so columns line up. */
export function formatSigned(n: number): string {
  if (n === 0) return '0';
  return `${n > 0 ? '+' : '−'}${whole.format(Math.abs(n))}`;
}

/** What each ledger kind means, for badges' titles and the page's explanation. */
export const KIND_MEANING: Record<LedgerKind, string> = {
  grant: 'Credits given: the starting grant or an administrator’s grant',
  adjustment: 'Credits an administrator took back',
  hold: 'Set aside when a VM was created, until it runs or fails',
  post: 'The held price charged: the VM was provisioned',
  void: 'The hold given back: the VM failed or went before it was provisioned',
  runtime: 'Charged for time the VM ran',
};

/** A quota limit's value with its unit; null is no limit. */
export function formatLimit(limit: keyof QuotaLimits, value: number | null): string {
  if (value === null) return 'no limit';
  switch (limit) {
    case 'memoryMb':
      return formatMemory(value);
    case 'diskGb':
      return `${value} GB`;
    case 'lifetimeHours':
      return value === 1 ? '1 hour' : `${value} hours`;
    case 'autoStopMinutes':
      return `${value} min`;
    default:
      return String(value);
  }
}

export interface UsageRow {
  id: keyof QuotaUsage;
  limit: keyof QuotaLimits;
  label: string;
  used: number;
  max: number | null;
  /** `1 of 3`, `2 GiB of 4 GiB`, `1 · no limit`. */
  text: string;
}

/** The counters a create is judged on, in the order the page shows them. */
const USAGE: Array<{ id: keyof QuotaUsage; limit: keyof QuotaLimits; label: string }> = [
  { id: 'vms', limit: 'maxVms', label: 'VMs' },
  { id: 'running', limit: 'maxRunning', label: 'Running VMs' },
  { id: 'vcpus', limit: 'vcpus', label: 'vCPUs' },
  { id: 'memoryMb', limit: 'memoryMb', label: 'Memory' },
  { id: 'diskGb', limit: 'diskGb', label: 'Disk' },
];

export function usageRows(view: Pick<CreditsView, 'quota' | 'usage'>): UsageRow[] {
  return USAGE.map(({ id, limit, label }) => {
    const used = view.usage[id];
    const max = view.quota[limit];
    const usedText = formatLimit(limit, used);
    return { id, limit, label, used, max, text: max === null ? `${usedText} · no limit` : `${usedText} of ${formatLimit(limit, max)}` };
  });
}

/** Percent of a limit in use for a progress bar; a limit of 0 reads as full (nothing more fits). */
export function usedShare(used: number, max: number): number {
  if (max <= 0) return 100;
  return Math.min(100, Math.round((used / max) * 100));
}

/** `1 VM · 1 running · 2 vCPU · 2 GiB · 10 GB`: a one-line summary for tables. */
export function usageSummary(u: QuotaUsage): string {
  return `${u.vms} VM${u.vms === 1 ? '' : 's'} · ${u.running} running · ${u.vcpus} vCPU · ${formatMemory(u.memoryMb)} · ${u.diskGb} GB`;
}
