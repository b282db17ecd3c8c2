/** Processes as /proc shows them: trees, environments, and killing what a test started. */
import fs from 'node:fs';


export interface Proc {
  pid: number;
  ppid: number;
  args: string;
}

export function readProc(pid: number): Proc | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return null;
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return { pid, ppid: Number(fields[1]), args };
  } catch {
    return null; // gone meanwhile
  }
}

export function allProcesses(): Proc[] {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map((n) => readProc(Number(n))).filter((p): p is Proc => p !== null);
}

/** The processes below `roots` (not the roots themselves). */
export function descendantsOf(roots: number[], procs: Proc[]): Proc[] {
  const inTree = new Set(roots);
  const found: Proc[] = [];
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
        inTree.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

export function hasEnv(pid: number, entry: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(entry);
  } catch {
    return false;
  }
}

/** Whether `pid` runs the program at `exe` (e.g. /usr/sbin/sshd). */
export function runsProgram(pid: number, exe: string): boolean {
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`) === exe;
  } catch {
    return false;
  }
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL') {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export async function waitUntilGone(pids: number[], timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (pids.some((pid) => readProc(pid) !== null) && Date.now() < deadline) await sleep(20);
}

export function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
