import { ApiError, errorMessage } from '$lib/api/client';
import type { VmLimitDetails } from '$lib/api/vms';
import { formatMemory } from './format';

/** Why a create was refused, said so that it says what to change. */
export interface AdmissionProblem {
  title: string;
  message: string;
  /** `insufficient_credits`: the credits page is where to act. */
  credits: boolean;
}

const LIMIT_NAMES: Record<string, string> = { vms: 'VMs', vcpus: 'vCPUs', memoryMb: 'memory', diskGb: 'disk' };

function amount(limit: string | undefined, n: number | undefined): string {
  if (n === undefined) return '?';
  if (limit === 'memoryMb') return formatMemory(n);
  if (limit === 'diskGb') return `${n} GB`;
  return String(n);
}

/** `memory: asked for 4 GiB with 2 GiB in use, of at most 4 GiB`, from 403 details, when the server gave no message. */
function limitLine(d: VmLimitDetails): string | null {
  if (!d.limit) return null;
  const name = LIMIT_NAMES[d.limit] ?? d.limit;
  return `${name}: asked for ${amount(d.limit, d.requested)} with ${amount(d.limit, d.used)} in use, of at most ${amount(d.limit, d.max)}.`;
}

/** Turns what `POST /api/vms` threw into a titled problem; field validation is handled by the form. */
export function admissionProblem(err: unknown): AdmissionProblem {
  if (!(err instanceof ApiError)) return { title: 'The VM was not created', message: errorMessage(err), credits: false };
  // The server's message already says what to do (destroy a VM, ask for a higher limit).
  const message = err.message || limitLine((err.details ?? {}) as VmLimitDetails) || `Request failed (${err.status})`;
  switch (err.code) {
    case 'quota_exceeded':
      return { title: 'Over your quota', message, credits: false };
    case 'capacity_exceeded':
      return { title: 'Not enough room on this server', message, credits: false };
    case 'insufficient_credits':
      return { title: 'Not enough credits', message, credits: true };
    case 'provider_unavailable':
      return { title: 'Provider unavailable', message, credits: false };
    default:
      return { title: 'The VM was not created', message, credits: false };
  }
}
