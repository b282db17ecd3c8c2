import type Docker from 'dockerode';

/**
 * The last lines a container wrote (sshd runs with `-e`, so its log is the container log): what
 * an error says when a VM does not come up. Never throws: a failure to read the log must not
 * hide the failure being reported.
 */

export const LOG_TAIL_LINES = 20;

/**
 * Splits the engine's multiplexed log format (8-byte header: stream type, 3 zero bytes, length
 * big-endian; used when the container has no TTY) into text. A buffer that does not start with
 * a valid header is returned as is (a TTY container's raw log).
 */
export function demuxLogBuffer(buf: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buf.length) {
    const type = buf[offset];
    if (type !== 0 && type !== 1 && type !== 2) return offset === 0 ? buf.toString('utf8') : Buffer.concat(parts).toString('utf8');
    const length = buf.readUInt32BE(offset + 4);
    parts.push(buf.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  if (offset === 0 && buf.length > 0) return buf.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}

export async function containerLogTail(container: Docker.Container, lines = LOG_TAIL_LINES): Promise<string[]> {
  try {
    const raw = await container.logs({ stdout: true, stderr: true, tail: lines, follow: false });
    const text = Buffer.isBuffer(raw) ? demuxLogBuffer(raw) : String(raw);
    return text.split(/\r?\n/).filter((l) => l.trim() !== '').slice(-lines);
  } catch {
    return [];
  }
}
