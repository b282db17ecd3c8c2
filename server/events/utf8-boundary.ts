/**
 * Length of the trailing bytes of `buf` that are the start of a UTF-8 character whose
 * remaining bytes have not arrived yet. Holding those back until the next read keeps
 * every stored event decodable on its own, so a character split across two reads is not
 * shown as two replacement characters. Invalid bytes are never held back.
 */
export function incompleteUtf8Tail(buf: Buffer): number {
  const n = buf.length;
  // A UTF-8 character is at most 4 bytes: look at the last 3 for an unfinished lead byte.
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for its lead
    const need = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}
