// @ts-check
/**
 * The server-side screens of the terminals, in one worker thread: a headless xterm.js per
 * terminal, fed with its PTY's output and serialized when a browser (re-)attaches.
 * Parsing costs about as much CPU as reading the PTY, so it runs beside the event loop
 * instead of on it: a flood in one terminal does not delay keystrokes, HTTP or other
 * terminals. One thread serves every terminal (a thread per terminal would cost ~25 MB each).
 *
 * Plain JavaScript on purpose: a worker is started from a file path, and a .js file loads
 * the same under tsx, vitest and plain node without a TypeScript loader in the thread.
 *
 * Messages are handled in order. In: {t:'open', id, cols, rows, scrollback},
 * {t:'data', id, data}, {t:'resize', id, cols, rows}, {t:'snapshot', id, req},
 * {t:'close', id}, {t:'memory', id}. Out: {t:'parsed', id, bytes} (flow control),
 * {t:'title', id, title}, {t:'snapshot', id, req, data, cols, rows},
 * {t:'memory', id, heapUsed, arrayBuffers} (this thread's, for diagnostics and tests).
 */
import { parentPort } from 'node:worker_threads';
import headless from '@xterm/headless';
import { SerializeAddon } from '@xterm/addon-serialize';

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/** @typedef {{ term: import('@xterm/headless').Terminal; serializer: SerializeAddon; parsed: number; queued: number }} Screen */
/** @type {Map<number, Screen>} */
const screens = new Map();

/** Reports parsed bytes in batches, to keep messages few. */
const report = (/** @type {number} */ id, /** @type {Screen} */ s) => {
  if (s.parsed) port.postMessage({ t: 'parsed', id, bytes: s.parsed });
  s.parsed = 0;
};

port.on('message', (/** @type {any} */ m) => {
  if (m.t === 'open') {
    // A program's malformed output is its own business: no parser warnings in the server's log.
    const term = new headless.Terminal({ cols: m.cols, rows: m.rows, scrollback: m.scrollback, allowProposedApi: true, logLevel: 'off' });
    const serializer = new SerializeAddon();
    term.loadAddon(serializer);
    term.onTitleChange((title) => port.postMessage({ t: 'title', id: m.id, title }));
    screens.set(m.id, { term, serializer, parsed: 0, queued: 0 });
    return;
  }
  if (m.t === 'memory') {
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    port.postMessage({ t: 'memory', id: m.id, heapUsed, arrayBuffers });
    return;
  }
  const s = screens.get(m.id);
  if (!s) return;
  if (m.t === 'data') {
    const data = /** @type {Uint8Array} */ (m.data);
    s.queued += data.length;
    s.term.write(data, () => {
      s.parsed += data.length;
      s.queued -= data.length;
      if (s.parsed >= 64 * 1024 || s.queued === 0) report(m.id, s);
    });
  } else if (m.t === 'resize') {
    s.term.write('', () => s.term.resize(m.cols, m.rows));
  } else if (m.t === 'snapshot') {
    s.term.write('', () => {
      report(m.id, s);
      port.postMessage({ t: 'snapshot', id: m.id, req: m.req, data: s.serializer.serialize(), cols: s.term.cols, rows: s.term.rows });
    });
  } else if (m.t === 'close') {
    screens.delete(m.id);
    s.term.dispose();
    collectSoon();
  }
});

/**
 * A closed screen leaves its scrollback behind: about 1 KB a line at 80 columns, held in
 * typed arrays outside the JavaScript heap. This thread allocates little else, so V8 has
 * no reason to collect, and the dead screens of terminals opened and closed during a day
 * pile up (measured: with one terminal open and nine 120-column ones flooded and closed,
 * this thread held 15-23 MB of ArrayBuffers instead of the open one's 7.5 MB). So it
 * collects a second after screens close, when the server runs with `--expose-gc` (as
 * `npm start` does); elsewhere this is a no-op.
 */
let collectTimer = /** @type {NodeJS.Timeout | null} */ (null);
function collectSoon() {
  const gc = /** @type {(() => void) | undefined} */ (/** @type {any} */ (globalThis).gc);
  if (!gc || collectTimer) return;
  collectTimer = setTimeout(() => {
    collectTimer = null;
    gc();
  }, 1000);
}
