import readline from 'node:readline';
import { io } from 'socket.io-client';

/**
 * A live viewer in its own process, as a browser would be: connects, prints "ready", then
 * reads a job id from stdin, joins it from seq 0 and prints a summary when job:done arrives.
 */
const [base, cookie] = process.argv.slice(2);
const encoding = process.env.WATCH_ENCODING ?? 'binary';
const socket = io(`${base}/jobs`, { transports: ['websocket'], extraHeaders: { cookie }, reconnection: false });
let events = 0;
let bytes = 0;
let last = 0;
socket.on('job:log', (m: { events: Array<{ seq: number; chunk: Buffer | string }> }) => {
  for (const e of m.events) {
    if (e.seq !== last + 1) {
      process.stderr.write(`gap or duplicate: ${last} then ${e.seq}\n`);
      process.exit(2);
    }
    last = e.seq;
    events++;
    bytes += e.chunk.length;
  }
});
socket.on('job:done', () => {
  process.stdout.write(`${JSON.stringify({ events, last, bytes })}\n`);
  process.exit(0);
});
socket.on('disconnect', (reason) => {
  process.stderr.write(`watcher disconnected: ${reason}\n`);
  process.exit(1);
});
socket.on('connect', () => {
  process.stdout.write('ready\n');
  readline.createInterface({ input: process.stdin }).once('line', (jobId) => {
    socket.emit('join-job', { jobId: jobId.trim(), after: 0, encoding }, () => {});
  });
});
