import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../platform/logger.ts';
import { processAlive } from '../platform/process-alive.ts';

const execFileAsync = promisify(execFile);

/** Both ends of one pipe, as file descriptors of this process. */
export interface PipeEnds {
  read: number;
  write: number;
}

/** A FIFO's name and the read end this process holds open. */
export interface Fifo {
  path: string;
  read: number;
}

/**
 * FIFOs made by one `mkfifo`: a job takes two, so one call serves 64 jobs. Each call forks
 * the server (10-25 ms of its event loop), so a burst of 50 jobs should need at most one.
 */
const BATCH = 128;
/** The next batch is made when the stock falls to this. */
const LOW_WATER = BATCH / 4;
/** After FIFOs could not be made, jobs use socket pairs for this long before the next try. */
const RETRY_MS = 60_000;
const DIR_PREFIX = 'vmo-pipes-';

/**
 * Real pipes for the output of job processes.
 *
 * Node connects a child's `'pipe'` stdio with a Unix socket pair, and a socket cannot be
 * opened by name: in a job, `echo x > /dev/stderr`, `tee /dev/stdout` or a tool told to log
 * to `/dev/stdout` failed with "No such device or address". A shell, a CI runner or
 * Go's os/exec give their children pipes, where all of these work. Node cannot make a pipe
 * without a child process, so pipes are made from FIFOs: one `mkfifo` makes a stock of
 * them in a private directory, and each is opened at both ends and unlinked at once. What
 * remains is an anonymous pipe: no process can open it by name, so a process left holding
 * an old job's pipe can never reach a new job's.
 *
 * When FIFOs cannot be made (no `mkfifo`, a temporary directory that refuses them),
 * `takePair()` answers null and the caller keeps Node's socket pairs; that is logged, and
 * tried again a minute later.
 */
export class PipeSupply {
  private dir: string | null = null;
  private stock: string[] = [];
  private made = 0;
  private refilling: Promise<void> | null = null;
  private failedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly log: Logger,
    private readonly tmpDir = os.tmpdir(),
  ) {}

  /** Two pipes, for a process's stdout and stderr; null (and nothing left open) when FIFOs cannot be made. */
  async takePair(): Promise<[PipeEnds, PipeEnds] | null> {
    const fifos = await this.takeFifoPair();
    if (!fifos) return null;
    let out: PipeEnds;
    try {
      out = openWriteEnd(fifos[0]);
    } catch (err) {
      this.release(fifos[1]);
      throw err;
    }
    try {
      return [out, openWriteEnd(fifos[1])];
    } catch (err) {
      fs.closeSync(out.read);
      fs.closeSync(out.write);
      throw err;
    }
  }

  /** Two FIFOs opened for reading (see takeFifo); null, with none kept, when FIFOs cannot be made. */
  async takeFifoPair(): Promise<[Fifo, Fifo] | null> {
    const first = await this.takeFifo();
    if (!first) return null;
    const second = await this.takeFifo().catch((err) => {
      this.release(first);
      throw err;
    });
    if (second) return [first, second];
    this.release(first);
    return null;
  }

  /** Gives up a FIFO from takeFifo that no writer will open. */
  release(fifo: Fifo): void {
    fs.closeSync(fifo.read);
    fs.rmSync(fifo.path, { force: true });
  }

  /**
   * A FIFO opened for reading, for another process to open for writing (the process
   * helper). The caller removes `path` once the writer has it open, or when it gives up.
   */
  async takeFifo(): Promise<Fifo | null> {
    const failing = () => Date.now() - this.failedAt < RETRY_MS;
    // Refilled before it runs out, so that a burst of jobs rarely waits for `mkfifo`.
    if (this.stock.length <= LOW_WATER && !failing()) void this.refill();
    while (!this.stock.length) {
      if (failing()) return null;
      await this.refill();
    }
    const fifo = this.stock.pop()!;
    try {
      // Without blocking: nothing has it open for writing yet.
      return { path: fifo, read: fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK) };
    } catch (err) {
      fs.rmSync(fifo, { force: true });
      throw err;
    }
  }

  /** Makes the first stock now rather than when the first pipe is asked for. */
  prepare(): void {
    if (!this.stock.length && Date.now() - this.failedAt >= RETRY_MS) void this.refill();
  }

  /** Removes the directory and the FIFOs not taken. Pipes already taken are unaffected. */
  close(): void {
    process.off('exit', this.onExit);
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
    this.stock = [];
  }

  /** A process that exits without closing (a forced shutdown) still removes its directory. */
  private readonly onExit = () => this.close();

  private refill(): Promise<void> {
    this.refilling ??= this.makeFifos()
      .catch((err: Error) => {
        this.failedAt = Date.now();
        this.log.warn({ err: err.message }, 'cannot make FIFOs; job output uses socket pairs, where /dev/stdout cannot be opened');
      })
      .finally(() => {
        this.refilling = null;
      });
    return this.refilling;
  }

  private async makeFifos() {
    if (!this.dir) {
      removeStaleDirs(this.tmpDir);
      this.dir = fs.mkdtempSync(path.join(this.tmpDir, `${DIR_PREFIX}${process.pid}-`));
      process.once('exit', this.onExit);
    }
    const names = Array.from({ length: BATCH }, () => path.join(this.dir!, String(++this.made)));
    await execFileAsync('mkfifo', ['-m', '600', '--', ...names]);
    this.stock.push(...names);
  }
}

/** Opens a FIFO's write end (at once: it has a reader) and removes its name. */
function openWriteEnd(fifo: Fifo): PipeEnds {
  try {
    return { read: fifo.read, write: fs.openSync(fifo.path, fs.constants.O_WRONLY) };
  } catch (err) {
    fs.closeSync(fifo.read);
    throw err;
  } finally {
    fs.rmSync(fifo.path, { force: true });
  }
}

/** Directories of servers that were killed before they could remove theirs. */
function removeStaleDirs(tmpDir: string) {
  let entries: string[];
  try {
    entries = fs.readdirSync(tmpDir);
  } catch {
    return;
  }
  for (const name of entries) {
    const pid = Number(name.slice(DIR_PREFIX.length).split('-')[0]);
    if (!name.startsWith(DIR_PREFIX) || !Number.isInteger(pid) || pid <= 0 || processAlive(pid)) continue;
    try {
      fs.rmSync(path.join(tmpDir, name), { recursive: true, force: true });
    } catch {
      // another user's: theirs to remove
    }
  }
}
