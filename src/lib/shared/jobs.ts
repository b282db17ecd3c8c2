import type { VmUpdated } from './vms.ts';

/** Job and job-event shapes and the /jobs Socket.io event maps, shared by server and UI. */
export type JobType = 'make' | 'ssh' | 'terminal' | 'vm';
export type JobStatus = 'queued' | 'running' | 'success' | 'failed' | 'canceled' | 'interrupted' | 'spawned';
/** `resize` and `input` are used by terminal recordings; the rest by every job. */
export type StreamName = 'stdout' | 'stderr' | 'system' | 'pty' | 'resize' | 'input';

export const FINAL_STATUSES: readonly JobStatus[] = ['success', 'failed', 'canceled', 'interrupted'];
export const isFinal = (s: JobStatus) => FINAL_STATUSES.includes(s);

export interface Job {
  id: string;
  type: JobType;
  command: string;
  status: JobStatus;
  exitCode: number | null;
  userId: string | null;
  username?: string | null;
  projectAlias: string | null;
  target: string | null;
  hostId: string | null;
  vmId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  lastSeq: number;
  bytes: number;
  truncated: boolean;
  /** The console server that runs (or ran) it; null for jobs from before server ids. */
  serverId: string | null;
}

export interface JobEvent<Chunk = string> {
  seq: number;
  stream: StreamName;
  /**
   * UTF-8 text (invalid bytes shown as U+FFFD); base64 when asked for with encoding=base64;
   * raw bytes (ArrayBuffer in a browser) on a socket that joined with encoding "binary".
   */
  chunk: Chunk;
  at: string;
}

export interface EventsPage {
  events: JobEvent[];
  lastSeq: number;
  done: boolean;
}

export interface JobDone {
  jobId: string;
  status: JobStatus;
  exitCode: number | null;
}

export type Ack<T> = (res: ({ ok: true } & T) | { error: { code: string; message: string } }) => void;

export interface JobsServerToClient {
  /** chunk is text, or bytes (ArrayBuffer in a browser, Buffer in Node) after join-job with encoding "binary". */
  'job:log': (msg: { jobId: string; events: Array<JobEvent<string | ArrayBuffer | Uint8Array>> }) => void;
  'job:done': (msg: JobDone) => void;
  'job:updated': (msg: { job: Job }) => void;
  /** A provisioned VM changed (state, operation, address); sent to its owner and to admins. */
  'vm:updated': (msg: VmUpdated) => void;
  /** This socket's session ended server-side (account disabled, deleted, password reset or changed elsewhere); it is disconnected next. */
  'session:ended': (msg: { reason: string }) => void;
}

export interface JobsClientToServer {
  /** encoding "binary" delivers chunks as bytes: exact, and cheaper for both ends. */
  'join-job': (msg: { jobId: string; after?: number; encoding?: 'utf8' | 'binary' }, ack: Ack<{ job: Job }>) => void;
  'leave-job': (msg: { jobId: string }, ack?: Ack<object>) => void;
  'cancel-job': (msg: { jobId: string }, ack?: Ack<{ job: Job }>) => void;
}

export type CreateJobBody =
  | { type: 'make'; project: string; target: string; variables?: Record<string, string> }
  | { type: 'ssh'; host: string; command: string }
  | { type: 'terminal'; cwd?: string; host?: string; vm?: string; cols?: number; rows?: number; target?: string; shell?: string; recordInput?: boolean };
