import type { Environment, HostDetails, KnownHostKey, PresentedHostKeys, SshPreset } from '$lib/shared/inventory';
import type { Job } from '$lib/shared/jobs';
import { api } from './client';

type Fetch = typeof fetch;

/** `GET /api/environments?details=1`: the folder too, so an empty page can say where to put files. */
export interface EnvironmentsListing {
  dir: string;
  exists: boolean;
  environments: Environment[];
}

/** `POST /api/hosts/:id/check` when the connection worked (a failure is an ApiError with an ssh code). */
export interface HostCheckOk {
  ok: true;
  host: string;
  user: string;
  via: string[];
  ms: number;
}

/** Codes of a failed connection check that the host page explains; any other code is shown as its message. */
export type HostCheckCode =
  | 'host_key_unknown'
  | 'host_key_changed'
  | 'host_key_revoked'
  | 'ssh_unreachable'
  | 'ssh_auth_failed'
  | 'key_locked'
  | 'ssh_unsupported';

const hostPath = (id: string) => `/hosts/${encodeURIComponent(id)}`;

/**
 * Where a known_hosts lookup name points: `[name]:port` off port 22, else the bare name.
 * The accept call wants a host and port it can route to, not the bracketed form.
 */
export function splitLookupName(name: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d{1,5})$/.exec(name);
  return m ? { host: m[1], port: Number(m[2]) } : { host: name, port: 22 };
}

/** Typed calls for environments, hosts, remote jobs and host-key trust. */
export const hostsApi = {
  environments: (f?: Fetch) => api.get<EnvironmentsListing>('/environments?details=1', f),
  host: (id: string, f?: Fetch) => api.get<HostDetails>(hostPath(id), f),
  check: (id: string) => api.post<HostCheckOk>(`${hostPath(id)}/check`),
  recentJobs: (hostId: string, limit = 20) => api.get<{ jobs: Job[]; next: string | null }>(`/jobs?host=${encodeURIComponent(hostId)}&limit=${limit}`),

  /** A log stream any signed-in user may open; watched on the job page. */
  streamLogs: (hostId: string, preset: SshPreset) => api.post<Job>('/jobs', { type: 'ssh', host: hostId, preset }),
  /** Any command (administrators and users with terminal access). */
  runCommand: (hostId: string, command: string) => api.post<Job>('/jobs', { type: 'ssh', host: hostId, command }),
  /** An SSH shell, shown on the terminal page (administrators and users with terminal access). */
  openShell: (hostId: string, size?: { cols: number; rows: number }) => api.post<Job>('/jobs', { type: 'terminal', host: hostId, ...size }),

  knownHosts: (f?: Fetch) => api.get<KnownHostKey[]>('/known-hosts', f),
  /** Connects now and reports the keys the server presents; unknown ones are recorded as pending. */
  askHost: (host: string, port?: number) => api.post<PresentedHostKeys>('/known-hosts', port ? { host, port } : { host }),
  /** `host`: an inventory host id, `environment/name` or an ssh alias / host name (with `port` off 22). */
  acceptKey: (key: { host: string; port?: number; type: string; sha256: string }) => api.post<KnownHostKey>('/known-hosts/accept', key),
  removeKey: (id: string) => api.delete<void>(`/known-hosts/${encodeURIComponent(id)}`),
  unlockKey: (path: string, passphrase: string) => api.post<void>('/ssh/keys/unlock', { path, passphrase }),
};
