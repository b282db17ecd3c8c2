/** Linux helpers for a PTY's session: the slave side, process state, session-wide signals. */
import fs from 'node:fs';
import type { IPty } from 'node-pty';

/**
 * Opens the PTY's slave side in this process (never read, O_NOCTTY). While it is open the
 * master does not hang up when the program exits, so Linux cannot answer a read with EIO
 * while output is still queued in the PTY: that race is how node-pty loses the last
 * kilobytes of a program that exits right after printing (measured here: 21 of 30 runs of
 * `seq 1 20000` lost the tail without it, 0 of 100 with it). Closed once the output is drained.
 */
export function holdSlave(p: IPty): number | null {
  const name = (p as IPty & { ptsName?: string }).ptsName;
  if (!name) return null;
  try {
    return fs.openSync(name, fs.constants.O_RDONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
  } catch {
    return null; // the program is already gone
  }
}

export function processRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Pids whose session id is `sid` (the PTY's shell is a session leader: node-pty calls setsid). */
export function sessionPids(sid: number): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name: state ppid pgrp session …
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[3]) === sid && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

export function signalSession(sid: number, signal: NodeJS.Signals) {
  for (const pid of sessionPids(sid)) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}
