import type { SshPreset } from '../../src/lib/shared/inventory.ts';
import { validationFailed } from '../platform/errors.ts';
import { posixCksum } from './cksum.ts';
import { shQuote } from './remote-command.ts';

/**
 * Remote log streams that can resume after a dropped connection with no gap and no
 * duplicate: journalctl by cursor, `docker logs` by timestamp (its --since is inclusive,
 * so lines at the boundary timestamp already seen are skipped), `tail -F` by byte offset
 * once the file is proven to be the same (device:inode) and not shorter. Pure: builds
 * commands and turns the remote output into what is stored, tracking the position.
 */
export type PresetPosition =
  | { kind: 'journalctl'; cursor: string | null }
  | { kind: 'docker-logs'; since: string | null; seenAtSince: number }
  /** `recent`: the (up to 64) bytes just before `offset` as read, base64; a resume checks the file still holds them. */
  | { kind: 'tail'; file: string | null; offset: number; recent?: string };

export interface PresetOutput {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** One connection's run of a preset: the command, and a parser that tracks the position. */
export interface PresetRun {
  command: string;
  stdout(chunk: Buffer): PresetOutput[];
  stderr(chunk: Buffer): PresetOutput[];
  /** A partial last line, at the end of the stream. */
  end(): PresetOutput[];
  /** Where a new connection would continue; null when it cannot (a custom command). */
  position(): PresetPosition | null;
  /** Notes for the job's log (e.g. "the file was replaced"), taken once. */
  takeNotes(): string[];
}

const UNIT = /^[a-zA-Z0-9@_.:\\-]{1,256}$/;
const CONTAINER = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/;

/** Checks a preset from a request body; values are quoted for the remote shell anyway. */
export function parsePreset(raw: unknown): SshPreset {
  const p = raw as Record<string, unknown> | null;
  if (!p || typeof p !== 'object') throw validationFailed('preset must be an object with a kind');
  const str = (k: string) => (typeof p[k] === 'string' ? (p[k] as string).trim() : undefined);
  switch (p.kind) {
    case 'journalctl': {
      const unit = str('unit') || undefined;
      if (unit && !UNIT.test(unit)) throw validationFailed(`"${unit}" is not a systemd unit name`);
      return unit ? { kind: 'journalctl', unit } : { kind: 'journalctl' };
    }
    case 'docker-logs': {
      const container = str('container');
      if (!container || !CONTAINER.test(container)) throw validationFailed('docker-logs needs a container name or id');
      return { kind: 'docker-logs', container };
    }
    case 'tail': {
      const path = str('path');
      if (!path || !path.startsWith('/') || /[\n\r\0]/.test(path) || path.length > 4096) {
        throw validationFailed('tail needs an absolute file path');
      }
      return { kind: 'tail', path };
    }
    default:
      throw validationFailed('preset.kind must be journalctl, docker-logs or tail');
  }
}

/** How the preset reads as a command, for job lists. */
export function describePreset(p: SshPreset, initialLines: number): string {
  switch (p.kind) {
    case 'journalctl': return `journalctl -f -n ${initialLines}${p.unit ? ` -u ${shQuote(p.unit)}` : ''}`;
    case 'docker-logs': return `docker logs -f -t --tail ${initialLines} ${shQuote(p.container)}`;
    case 'tail': return `tail -n ${initialLines} -F ${shQuote(p.path)}`;
  }
}

export function startPreset(p: SshPreset, from: PresetPosition | null, initialLines: number): PresetRun {
  switch (p.kind) {
    case 'journalctl': return journalRun(p.unit, from?.kind === 'journalctl' ? from : null, initialLines);
    case 'docker-logs': return dockerRun(p.container, from?.kind === 'docker-logs' ? from : null, initialLines);
    case 'tail': return tailRun(p.path, from?.kind === 'tail' ? from : null, initialLines);
  }
}

/** Splits a byte stream into complete lines (with their \n); keeps the partial last one. */
class LineSplitter {
  private rest = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    const data = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = data.indexOf(10, start); nl >= 0; nl = data.indexOf(10, start)) {
      lines.push(data.subarray(start, nl + 1));
      start = nl + 1;
    }
    this.rest = Buffer.from(data.subarray(start));
    return lines;
  }
  end(): Buffer | null {
    const r = this.rest;
    this.rest = Buffer.alloc(0);
    return r.length ? r : null;
  }
}

const out = (data: Buffer | string, stream: 'stdout' | 'stderr' = 'stdout'): PresetOutput =>
  ({ stream, data: typeof data === 'string' ? Buffer.from(data) : data });

function journalRun(unit: string | undefined, from: { cursor: string | null } | null, initialLines: number): PresetRun {
  let cursor = from?.cursor ?? null;
  const unitArg = unit ? ` -u ${shQuote(unit)}` : '';
  // Without --no-tail, --after-cursor shows only the last 10 entries and then waits.
  const command = cursor
    ? `journalctl -f -o json --no-tail --after-cursor=${shQuote(cursor)}${unitArg}`
    : `journalctl -f -o json -n ${initialLines}${unitArg}`;
  const lines = new LineSplitter();
  const render = (line: Buffer): PresetOutput => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line.toString('utf8'));
    } catch {
      return out(line); // not JSON (a journalctl warning): shown as it came
    }
    if (typeof entry.__CURSOR === 'string') cursor = entry.__CURSOR;
    return out(formatJournalEntry(entry), Number(entry.PRIORITY) <= 3 ? 'stderr' : 'stdout');
  };
  return {
    command,
    stdout: (chunk) => lines.push(chunk).map(render),
    stderr: (chunk) => [out(chunk, 'stderr')],
    end: () => {
      const rest = lines.end();
      return rest ? [render(rest)] : [];
    },
    position: () => ({ kind: 'journalctl', cursor }),
    takeNotes: () => [],
  };
}

/** One journal entry in the short-iso style: `2026-11-22T03:56:35.123Z host ident[pid]: message`. */
export function formatJournalEntry(e: Record<string, unknown>): string {
  const us = Number(e.__REALTIME_TIMESTAMP);
  const when = Number.isFinite(us) ? new Date(Math.floor(us / 1000)).toISOString() : '-';
  const ident = String(e.SYSLOG_IDENTIFIER ?? e._COMM ?? 'unknown');
  const pid = e._PID ?? e.SYSLOG_PID;
  const host = e._HOSTNAME ? `${e._HOSTNAME} ` : '';
  // journalctl -o json gives MESSAGE as an array of bytes when it is not valid UTF-8.
  const msg = Array.isArray(e.MESSAGE) ? Buffer.from(e.MESSAGE as number[]).toString('utf8') : String(e.MESSAGE ?? '');
  return `${when} ${host}${ident}${pid ? `[${pid}]` : ''}: ${msg.replace(/\n$/, '')}\n`;
}

const DOCKER_TS = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) /;

function dockerRun(container: string, from: { since: string | null; seenAtSince: number } | null, initialLines: number): PresetRun {
  let last = from?.since ?? null;
  let seenAtLast = from?.seenAtSince ?? 0;
  // --since is inclusive: the first `skip` lines stamped exactly `last` were already stored.
  let skip = last ? seenAtLast : 0;
  const command = last
    ? `docker logs --follow --timestamps --since ${shQuote(last)} ${shQuote(container)} 2>&1`
    : `docker logs --follow --timestamps --tail ${initialLines} ${shQuote(container)} 2>&1`;
  const lines = new LineSplitter();
  const take = (line: Buffer): PresetOutput[] => {
    const m = DOCKER_TS.exec(line.subarray(0, 64).toString('latin1'));
    if (!m) return [out(line)];
    const ts = m[1];
    if (skip > 0 && ts === from?.since) {
      skip--;
      return [];
    }
    skip = 0;
    if (ts === last) seenAtLast++;
    else {
      last = ts;
      seenAtLast = 1;
    }
    return [out(line)];
  };
  return {
    command,
    stdout: (chunk) => lines.push(chunk).flatMap(take),
    stderr: (chunk) => [out(chunk, 'stderr')],
    end: () => {
      const rest = lines.end();
      return rest ? take(rest) : [];
    },
    position: () => ({ kind: 'docker-logs', since: last, seenAtSince: seenAtLast }),
    takeNotes: () => [],
  };
}

const TAIL_HEADER = 0x1e; // a record separator: never the first byte of a log file's text
/** Bytes before the resume offset compared by checksum: an inode number alone can be reused by a new file. */
const TAIL_CHECK_BYTES = 64;

/**
 * The remote script: picks the start offset (the last N lines on a first run; the stored
 * offset when the file is the same device:inode, not shorter, and still holds the bytes
 * just before that offset; else 0), announces it in one header line, then follows the file
 * by name from there.
 */
const TAIL_SCRIPT = [
  'f=$1; want=$2; off=$3; n=$4; sum=$5;',
  'id=$(stat -L -c %d:%i -- "$f" 2>/dev/null) || id=none;',
  'size=$(stat -L -c %s -- "$f" 2>/dev/null) || size=0;',
  `k=$off; [ "$k" -gt ${TAIL_CHECK_BYTES} ] && k=${TAIL_CHECK_BYTES};`,
  'if [ -z "$want" ]; then start=$((size - $(tail -n "$n" -- "$f" 2>/dev/null | wc -c))); how=new;',
  'elif [ "$off" -ge 0 ] && [ "$size" -ge "$off" ] && { [ "$id" = "$want" ] || [ "$want" = none ]; }',
  '&& { [ -z "$sum" ] || [ "$(dd if="$f" bs=1 skip=$((off - k)) count=$k 2>/dev/null | cksum)" = "$sum" ]; };',
  'then start=$off; how=resume;',
  'else start=0; how=changed; fi;',
  '[ "$start" -ge 0 ] || start=0;',
  `printf '\\036vmo-tail %s %s %s\\n' "$id" "$start" "$how";`,
  'exec tail -c +$((start + 1)) -F -- "$f"',
].join(' ');

function tailRun(path: string, from: { file: string | null; offset: number; recent?: string } | null, initialLines: number): PresetRun {
  let file = from?.file ?? null;
  let offset = from ? from.offset : -1;
  let header: Buffer | null = Buffer.alloc(0);
  /** The last bytes read, for the checksum a resume verifies. */
  let recent = Buffer.from(from?.recent ?? '', 'base64');
  const fromRecent = recent;
  const notes: string[] = [];
  const sum = from && from.offset > 0 && recent.length === Math.min(from.offset, TAIL_CHECK_BYTES) ? posixCksum(recent) : '';
  const args = [path, from ? (from.file ?? 'none') : '', String(from ? from.offset : -1), String(initialLines), sum];
  const command = `sh -c ${shQuote(TAIL_SCRIPT)} vmo-tail ${args.map(shQuote).join(' ')}`;

  const readHeader = (line: string) => {
    const [, id, start, how] = line.trim().split(' ');
    file = id === 'none' ? null : id;
    offset = Number(start) || 0;
    if (how === 'changed') {
      notes.push(`${path} was replaced or truncated while the connection was down: reading it again from its start (lines written to the old file after the drop may be missing).`);
    } else if (how === 'resume' && from && !from.file) {
      notes.push(`Resumed ${path} at byte ${offset}; the file did not exist when the stream started, so it could not be checked to be the same file.`);
    }
    // Resuming mid-file, the bytes before the offset are the ones the last run ended with.
    recent = how === 'resume' ? fromRecent : Buffer.alloc(0);
  };
  return {
    command,
    stdout(chunk) {
      if (header) {
        const data: Buffer = Buffer.concat([header, chunk]);
        const nl = data.indexOf(10);
        if (nl < 0) {
          header = data;
          return [];
        }
        if (data[0] === TAIL_HEADER) readHeader(data.subarray(1, nl).toString('latin1'));
        header = null;
        chunk = data.subarray(data[0] === TAIL_HEADER ? nl + 1 : 0);
        if (!chunk.length) return [];
      }
      offset += chunk.length;
      recent = Buffer.concat([recent, chunk.subarray(-TAIL_CHECK_BYTES)]).subarray(-TAIL_CHECK_BYTES);
      return [out(chunk)];
    },
    stderr(chunk) {
      const text = chunk.toString('utf8');
      // tail -F follows a replaced or truncated file by itself; offsets of the old file no longer apply.
      if (/has been replaced|file truncated|has appeared/.test(text)) {
        file = null;
        offset = -1;
        recent = Buffer.alloc(0);
      }
      return [out(chunk, 'stderr')];
    },
    end: () => [],
    position: () => ({ kind: 'tail', file, offset, recent: recent.toString('base64') }),
    takeNotes: () => notes.splice(0),
  };
}

/** A custom command: output passes through as it comes; there is no position to resume from. */
export function commandRun(command: string): PresetRun {
  return {
    command,
    stdout: (chunk) => [out(chunk)],
    stderr: (chunk) => [out(chunk, 'stderr')],
    end: () => [],
    position: () => null,
    takeNotes: () => [],
  };
}
