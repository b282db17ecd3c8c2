/** Terminal shapes and the /terminals Socket.io event maps, shared by server and UI. */
import type { Ack, Job, JobStatus } from './jobs.ts';

/**
 * Flow control: pause the PTY above HIGH unacknowledged bytes, resume below LOW. The
 * window is far below xterm.js's 50 MB write-buffer limit, so neither end's memory grows,
 * yet wide enough that a round trip per window does not cap throughput (a 100 KB window
 * that drains to 5 KB before resuming stalls the PTY on every acknowledgement).
 */
export const FLOW_HIGH_WATER = 1024 * 1024;
export const FLOW_LOW_WATER = 256 * 1024;
/** A client acks after it has written this many bytes into its terminal. */
export const FLOW_ACK_EVERY = 32 * 1024;

/** A running terminal in `GET /api/terminals`: its job plus who is watching. */
export interface TerminalSummary extends Job {
  /** Sockets attached right now (browser tabs, scripts). */
  attached: number;
  /** When the last socket detached (ISO time); null while one is attached. */
  idleSince: string | null;
  /** When the idle timeout will end it, if nobody attaches before (ISO time); null while attached. */
  endsAt: string | null;
  cols: number;
  rows: number;
  /** Last title the shell set (OSC 0/2), '' if none. */
  title: string;
  /** Directory it started in. */
  cwd: string;
}

export interface AttachOk {
  job: Job;
  /** This socket has the keyboard: its input and resizes are applied. */
  keyboard: boolean;
  /** The PTY's size; the screen snapshot that follows is drawn at this size. */
  cols: number;
  rows: number;
  title: string;
  /** The terminal has ended: no snapshot follows; replay the recording instead. */
  ended?: boolean;
}

export interface TerminalExit {
  jobId: string;
  exitCode: number | null;
  status: JobStatus;
}

export interface TerminalsServerToClient {
  /** Terminal output bytes (a Buffer on the server, an ArrayBuffer in the browser). */
  output: (msg: { jobId: string; data: Uint8Array | ArrayBuffer }) => void;
  /** The PTY was resized (by the keyboard owner); in order with `output`. */
  resize: (msg: { jobId: string; cols: number; rows: number }) => void;
  keyboard: (msg: { jobId: string; owner: boolean }) => void;
  /** This socket stopped acknowledging output and no longer receives it; attach again to resume. */
  lagging: (msg: { jobId: string }) => void;
  /** This socket was detached because its account may no longer use terminals. */
  revoked: (msg: { jobId: string; reason: string }) => void;
  exit: (msg: TerminalExit) => void;
}

export interface TerminalsClientToServer {
  attach: (msg: { jobId: string; cols?: number; rows?: number }, ack: Ack<AttachOk>) => void;
  detach: (msg: { jobId: string }, ack?: Ack<object>) => void;
  input: (msg: { jobId: string; data: string | Uint8Array | ArrayBuffer }) => void;
  resize: (msg: { jobId: string; cols: number; rows: number }) => void;
  /** `bytes`: output bytes written into the terminal since the previous ack. */
  ack: (msg: { jobId: string; bytes: number }) => void;
  'take-keyboard': (msg: { jobId: string }, ack?: Ack<{ keyboard: true }>) => void;
}
