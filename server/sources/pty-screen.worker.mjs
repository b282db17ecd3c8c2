// @ts-check
/**
 * The server-side screen of one terminal, in a worker thread: a headless xterm.js fed with
 * the PTY's output, serialized when a browser (re-)attaches. Parsing costs about as much
 * CPU as reading the PTY, so it runs beside the event loop instead of on it: a flood in
 * one terminal does not delay keystrokes, HTTP or other terminals.
 *
 * Plain JavaScript on purpose: a worker is started from a file path, and a .js file loads
 * the same under tsx, vitest and plain node without a TypeScript loader in the thread.
 *
 * Messages are handled in order. In: {t:'data', data}, {t:'resize', cols, rows},
 * {t:'snapshot', id}. Out: {t:'parsed', bytes} (flow control), {t:'snapshot', id, data,
 * cols, rows}, {t:'title', title}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import headless from '@xterm/headless';
import { SerializeAddon } from '@xterm/addon-serialize';

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const { cols, rows, scrollback } = /** @type {{ cols: number; rows: number; scrollback: number }} */ (workerData);
const term = new headless.Terminal({ cols, rows, scrollback, allowProposedApi: true });
const serializer = new SerializeAddon();
term.loadAddon(serializer);
term.onTitleChange((title) => port.postMessage({ t: 'title', title }));

/** Parsed bytes not yet reported; reported in batches to keep messages few. */
let parsed = 0;
let queued = 0;
const report = () => {
  if (parsed) port.postMessage({ t: 'parsed', bytes: parsed });
  parsed = 0;
};

port.on('message', (/** @type {any} */ m) => {
  if (m.t === 'data') {
    const data = /** @type {Uint8Array} */ (m.data);
    queued += data.length;
    term.write(data, () => {
      parsed += data.length;
      queued -= data.length;
      if (parsed >= 64 * 1024 || queued === 0) report();
    });
  } else if (m.t === 'resize') {
    term.write('', () => term.resize(m.cols, m.rows));
  } else if (m.t === 'snapshot') {
    term.write('', () => {
      report();
      port.postMessage({ t: 'snapshot', id: m.id, data: serializer.serialize(), cols: term.cols, rows: term.rows });
    });
  }
});
