/**
 * A minimal ustar writer for the few files the provider puts into a container with
 * `PUT /containers/{id}/archive` (the `.ssh` directory and `authorized_keys`). The engine keeps
 * each entry's uid, gid and mode when it extracts (without `copyUIDGID`), so ownership is
 * decided here, not by a chown afterwards.
 */

export interface TarEntry {
  /** Relative to the extraction path, without a leading slash; directories may end with `/`. */
  path: string;
  type: 'file' | 'dir';
  mode: number;
  uid: number;
  gid: number;
  content?: Buffer;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL terminator, as ustar readers expect.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(entry: TarEntry, size: number): Buffer {
  const name = entry.type === 'dir' && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
  if (name.startsWith('/') || name.split('/').includes('..')) throw new Error(`tar entry "${name}" must be a relative path without ..`);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry "${name}" is longer than 100 bytes`);
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(entry.mode & 0o7777, 8), 100, 8, 'ascii');
  h.write(octal(entry.uid, 8), 108, 8, 'ascii');
  h.write(octal(entry.gid, 8), 116, 8, 'ascii');
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(Math.floor(Date.now() / 1000), 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii'); // the checksum counts its own field as spaces
  h.write(entry.type === 'dir' ? '5' : '0', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

export function tarArchive(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.type === 'file' ? (entry.content ?? Buffer.alloc(0)) : Buffer.alloc(0);
    parts.push(header(entry, content.length), content);
    const pad = (BLOCK - (content.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0)); // end-of-archive marker
  return Buffer.concat(parts);
}
