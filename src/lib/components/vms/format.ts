import type { Vm } from '$lib/shared/vms';

/** `512 MiB`, `2 GiB`, `1.5 GiB`: sizes are asked for in MB (MiB, as Docker and OVH count them). */
export function formatMemory(mb: number): string {
  if (!Number.isFinite(mb)) return '—';
  if (mb < 1024) return `${mb} MiB`;
  const gib = mb / 1024;
  return `${Number.isInteger(gib) ? gib : gib.toFixed(1)} GiB`;
}

/** `0 min`, `45 min`, `3 h 05 min`, `2 d 4 h`: how long a VM has run, as billed. */
export function formatMinutes(minutes: number): string {
  if (!Number.isFinite(minutes) || minutes < 0) return '—';
  const m = Math.floor(minutes);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** `2 vCPU · 2 GiB · 20 GB`, for one-line summaries. */
export function formatSize(vm: Pick<Vm, 'vcpus' | 'memoryMb' | 'diskGb'>): string {
  return `${vm.vcpus} vCPU · ${formatMemory(vm.memoryMb)} · ${vm.diskGb} GB`;
}

const dayTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** `in 12 min`, `in 5 h`, then a date: for deadlines (auto-stop, expiry) that lie ahead. */
export function relativeFuture(iso: string, now = Date.now()): string {
  const s = Math.round((Date.parse(iso) - now) / 1000);
  if (s < 0) return 'overdue';
  if (s < 60) return 'in less than a minute';
  if (s < 3600) return `in ${Math.round(s / 60)} min`;
  if (s < 86_400) return `in ${Math.round(s / 3600)} h`;
  return dayTime.format(new Date(iso));
}
