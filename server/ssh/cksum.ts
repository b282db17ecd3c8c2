/**
 * POSIX `cksum`: CRC-32 (polynomial 0x04C11DB7, most significant bit first) over the data
 * followed by its length, complemented. Every POSIX host has the command, so a remote
 * script can check that a file still holds bytes we have already seen.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** What `cksum` prints for `data`: "CRC LENGTH". */
export function posixCksum(data: Buffer): string {
  let crc = 0;
  const step = (byte: number) => {
    crc = ((crc << 8) ^ TABLE[((crc >>> 24) ^ byte) & 0xff]) >>> 0;
  };
  for (const b of data) step(b);
  for (let n = data.length; n > 0; n = Math.floor(n / 256)) step(n & 0xff);
  return `${(~crc) >>> 0} ${data.length}`;
}
