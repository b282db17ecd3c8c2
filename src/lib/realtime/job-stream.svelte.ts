import { api, errorMessage } from '$lib/api/client';
import type { LogSearchResult, LogSource } from '$lib/components/console/log-source';
import { isFinal, type EventsPage, type Job, type JobDone, type JobEvent } from '$lib/shared/jobs';
import { LineBuilder, type LogLine } from '$lib/shared/log-lines';
import { jobsSocket, reconnectNow, type JobsSocket } from './socket';

/** Events per history request: the server's maximum is 10,000 rows (and ~4 MB). */
const PAGE = 5000;
/**
 * The first page is small: its time to the screen is what a user waits for when a console
 * opens (JSON of 4 MiB takes the server and the browser tens of milliseconds each).
 */
const FIRST_PAGE_BYTES = 256 * 1024;
/** Without a socket connection, catch up over HTTP this often so a console still moves. */
const POLL_MS = 3000;
const utf8 = new TextDecoder();

/**
 * One job's output for a console: replays stored events over HTTP, then follows live
 * events over the `/jobs` socket with a seq cursor. Invariant: events are applied exactly
 * once and in seq order; `lastSeq` is the highest applied seq. Anything at or below it is
 * a duplicate and dropped; anything beyond `lastSeq + 1` waits until the missing range has
 * been read from the server (Postgres is the truth, the socket only says there is more).
 *
 * Lines are built as events arrive but published to the UI at most once per animation
 * frame, so a job printing 100,000 lines a second costs one render per frame.
 */
export class JobStream implements LogSource {
  job = $state<Job | null>(null);
  /** Why the job or its output could not be loaded. */
  error = $state<string | null>(null);
  /** Stored output is still being read (the first time the console opens). */
  loading = $state(true);
  /** Every event of a finished job has been applied. */
  done = $state(false);
  /** Joined the job's live stream. */
  live = $state(false);

  count = $state(0);
  completeCount = $state(0);
  version = $state(0);

  /** Highest applied seq; not reactive (it changes per event). */
  lastSeq = 0;
  /** `lastSeq` as of the last published frame, for progress displays. */
  loadedSeq = $state(0);

  readonly status = $derived(this.job?.status ?? null);

  #builder = new LineBuilder();
  /** Events received ahead of a gap, by seq. Internal bookkeeping, deliberately not reactive. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  #pending = new Map<number, JobEvent>();
  #fillTarget = 0;
  #filling: Promise<void> | null = null;
  #raf = 0;
  #started = false;
  #destroyed = false;
  #socket: JobsSocket | null = null;
  #poll: ReturnType<typeof setInterval> | undefined;

  constructor(readonly jobId: string) {}

  line(index: number): LogLine | undefined {
    const b = this.#builder;
    if (index < b.lines.length) return b.lines[index];
    return index === b.lines.length ? (b.openLine ?? undefined) : undefined;
  }

  search(query: string, regex: boolean, limit: number): Promise<LogSearchResult> {
    const q = `q=${encodeURIComponent(query)}&regex=${regex ? 1 : 0}&limit=${limit}`;
    return api.get<LogSearchResult>(`/jobs/${this.jobId}/search?${q}`);
  }

  /**
   * Loads the job and its stored output, then follows it live. A job that is already
   * finished when its history has been read needs no socket at all.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    document.addEventListener('visibilitychange', this.#onVisibility);
    try {
      const job = await api.get<Job>(`/jobs/${this.jobId}`);
      if (this.#destroyed) return;
      this.job = job;
      // Terminal sessions are screens, not line logs; their own view replays them.
      if (job.type === 'terminal') return;
      await this.#fill(job.lastSeq);
      if (this.#destroyed) return;
      this.#checkDone();
      if (!this.done) this.#follow();
    } catch (err) {
      this.error = errorMessage(err);
    } finally {
      this.loading = false;
      this.#publish();
    }
  }

  /** Stops following and releases the socket listeners. Safe to call twice. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    document.removeEventListener('visibilitychange', this.#onVisibility);
    if (this.#raf) cancelAnimationFrame(this.#raf);
    clearInterval(this.#poll);
    this.#unfollow();
  }

  /** Re-reads the job and any output after `lastSeq` over HTTP; safe to call any time. */
  async catchUp(): Promise<void> {
    if (this.#destroyed || !this.#started || this.loading) return;
    try {
      const job = await api.get<Job>(`/jobs/${this.jobId}`);
      if (this.#destroyed) return;
      this.#setJob(job);
      await this.#fill(job.lastSeq);
      this.#checkDone();
    } catch {
      // Offline or server restarting: the socket or the next wake-up tries again.
    }
  }

  // ── live stream ──────────────────────────────────────────────────────────────

  #follow() {
    const socket = (this.#socket = jobsSocket());
    socket.on('connect', this.#join);
    socket.on('disconnect', this.#onDisconnect);
    socket.on('job:log', this.#onLog);
    socket.on('job:done', this.#onDone);
    socket.on('job:updated', this.#onUpdated);
    if (socket.connected) this.#join();
    this.#poll = setInterval(() => {
      if (!this.done && !socket.connected && !document.hidden) void this.catchUp();
    }, POLL_MS);
  }

  #unfollow() {
    const socket = this.#socket;
    if (!socket) return;
    this.#socket = null;
    clearInterval(this.#poll);
    socket.off('connect', this.#join);
    socket.off('disconnect', this.#onDisconnect);
    socket.off('job:log', this.#onLog);
    socket.off('job:done', this.#onDone);
    socket.off('job:updated', this.#onUpdated);
    if (socket.connected) socket.emit('leave-job', { jobId: this.jobId });
    this.live = false;
  }

  /** (Re)joins with the cursor: the server sends every event after it, then live ones. */
  #join = () => {
    const socket = this.#socket;
    if (!socket || this.#destroyed || this.done) return;
    // Binary chunks: no JSON escaping on the server, one native decode here.
    socket.emit('join-job', { jobId: this.jobId, after: this.lastSeq, encoding: 'binary' }, (res) => {
      if (this.#destroyed) return;
      if ('error' in res) {
        this.error = res.error.message;
        return;
      }
      this.live = true;
      this.#setJob(res.job);
      this.#checkDone();
    });
  };

  #onDisconnect = () => {
    this.live = false;
  };

  #onLog = (msg: { jobId: string; events: Array<JobEvent<string | ArrayBuffer | Uint8Array>> }) => {
    if (msg.jobId !== this.jobId) return;
    // The server never splits a UTF-8 character between events, so each decodes on its own;
    // invalid bytes become U+FFFD exactly as in the HTTP API's text.
    this.#ingest(msg.events.map((e) => (typeof e.chunk === 'string' ? (e as JobEvent) : { ...e, chunk: utf8.decode(e.chunk) })));
  };

  #onDone = (msg: JobDone) => {
    if (msg.jobId !== this.jobId) return;
    if (this.job) this.job = { ...this.job, status: msg.status, exitCode: msg.exitCode };
    // The final row carries finishedAt and the last seq; catchUp also fills any gap.
    void this.catchUp();
  };

  #onUpdated = (msg: { job: Job }) => {
    if (msg.job.id !== this.jobId) return;
    this.#setJob(msg.job);
    if (isFinal(msg.job.status) && this.lastSeq < msg.job.lastSeq) this.#fill(msg.job.lastSeq).catch(() => {});
    this.#checkDone();
  };

  #onVisibility = () => {
    if (document.hidden) return;
    // Frames were skipped while hidden: show what arrived, then make sure nothing was missed.
    this.#publish();
    if (!this.done) {
      reconnectNow();
      void this.catchUp();
    }
  };

  #setJob(job: Job) {
    // A socket message and an HTTP read can cross; never move a job back from a final status.
    if (this.job && isFinal(this.job.status) && !isFinal(job.status)) return;
    this.job = job;
  }

  #checkDone() {
    const job = this.job;
    if (this.done || !job || !isFinal(job.status) || this.lastSeq < job.lastSeq || this.#pending.size) return;
    this.done = true;
    this.#publish();
    this.#unfollow();
  }

  // ── events → lines ───────────────────────────────────────────────────────────

  /** Applies events in seq order exactly once; a gap is read from the server first. */
  #ingest(events: JobEvent[]) {
    for (const e of events) {
      if (e.seq <= this.lastSeq) continue;
      if (e.seq === this.lastSeq + 1) this.#apply(e);
      else this.#pending.set(e.seq, e);
    }
    if (this.#pending.size) {
      for (let next = this.#pending.get(this.lastSeq + 1); next; next = this.#pending.get(this.lastSeq + 1)) {
        this.#pending.delete(next.seq);
        this.#apply(next);
      }
      let first = Infinity;
      for (const seq of this.#pending.keys()) {
        if (seq <= this.lastSeq) this.#pending.delete(seq);
        else first = Math.min(first, seq);
      }
      // A failed read is retried by the next live batch, job:done or wake-up.
      if (first !== Infinity) this.#fill(first - 1).catch(() => {});
    }
    this.#schedule();
  }

  #apply(e: JobEvent) {
    this.#builder.push(e.seq, e.stream, e.chunk);
    this.lastSeq = e.seq;
  }

  /**
   * Reads stored events until `lastSeq` reaches `target`. One reader at a time; a call
   * while it runs only raises the target. The next page is requested before the current
   * one is turned into lines, so the network and the parsing overlap.
   */
  #fill(target: number): Promise<void> {
    this.#fillTarget = Math.max(this.#fillTarget, target);
    if (!this.#filling) {
      this.#filling = this.#runFill().finally(() => {
        this.#filling = null;
        this.#checkDone();
      });
    }
    return this.#filling;
  }

  async #runFill() {
    let next: Promise<EventsPage> | null = null;
    while (!this.#destroyed && this.lastSeq < this.#fillTarget) {
      const page: EventsPage = await (next ?? this.#page(this.lastSeq));
      next = null;
      if (this.#destroyed || !page.events.length) break;
      const end = Math.max(page.events[page.events.length - 1].seq, this.lastSeq);
      if (end < this.#fillTarget && !page.done) next = this.#page(end);
      this.#ingest(page.events);
      if (page.done && this.job && page.lastSeq > this.job.lastSeq) this.job = { ...this.job, lastSeq: page.lastSeq };
    }
  }

  #page(after: number): Promise<EventsPage> {
    const bytes = after === 0 ? `&maxBytes=${FIRST_PAGE_BYTES}` : '';
    return api.get<EventsPage>(`/jobs/${this.jobId}/events?after=${after}&limit=${PAGE}${bytes}`);
  }

  // ── publishing to the UI ─────────────────────────────────────────────────────

  #schedule() {
    // Hidden tabs get no frames; the visibility handler publishes on wake-up.
    if (this.#raf || this.#destroyed || document.hidden) return;
    this.#raf = requestAnimationFrame(() => {
      this.#raf = 0;
      this.#publish();
    });
  }

  #publish() {
    const b = this.#builder;
    this.count = b.count;
    this.completeCount = b.lines.length;
    this.loadedSeq = this.lastSeq;
    this.version++;
  }
}
