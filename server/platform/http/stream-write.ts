import type { Response } from 'express';

/**
 * Writes one piece of a streamed download, waiting while the socket's buffer is full.
 * Returns false once the client has gone away, so the caller stops reading the database.
 */
export async function writeOrWait(res: Response, chunk: Buffer | string): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
  return !res.destroyed;
}
