import crypto from 'node:crypto';
import type { Queryable } from '../platform/db.ts';
import { AppError, conflict, validationFailed } from '../platform/errors.ts';

/** An answer kept for an Idempotency-Key: what the first request got, refusals included. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

export interface IdempotencyRequest {
  key: string;
  /** SHA-256 of the request body: the same key with another body is a client bug (422). */
  hash: string;
}

/** Reads the header: absent → null; otherwise a key of visible ASCII, at most 255 characters. */
export function idempotencyRequest(header: string | undefined, body: unknown): IdempotencyRequest | null {
  if (header === undefined) return null;
  if (!/^[\x21-\x7e]{1,255}$/.test(header)) throw validationFailed('Idempotency-Key: 1–255 visible ASCII characters');
  return { key: header, hash: crypto.createHash('sha256').update(JSON.stringify(body ?? null)).digest('hex') };
}

/**
 * Idempotency-Key for creates, scoped per user, kept at least 24 h. The key is claimed in the
 * create's own transaction: a retry racing the first request waits on the key's unique index
 * until the first commits (with its answer stored in the same transaction) and then replays
 * it. A refusal rolls the claim back; its answer is stored afterwards, so a later retry gets
 * the same refusal.
 */
export class IdempotencyKeys {
  /** Claims the key in `q`'s transaction; when it was claimed before, the stored answer (or 409 / 422). */
  async claim(q: Queryable, userId: string, r: IdempotencyRequest): Promise<StoredAnswer | null> {
    const claimed = await q.query(
      `INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING key`,
      [userId, r.key, r.hash],
    );
    if (claimed.rowCount === 1) return null;
    const { rows } = await q.query(
      `SELECT request_hash AS hash, response_status AS status, response_body AS body FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
      [userId, r.key],
    );
    const row = rows[0];
    if (!row) return null;
    if (row.hash !== r.hash) {
      throw new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with a different request body');
    }
    if (row.status === null) throw conflict('A request with this Idempotency-Key is still being processed; retry shortly', { reason: 'in_progress' });
    return { status: row.status, body: row.body };
  }

  /** Stores the answer for a claimed key (same transaction as the claim). */
  async complete(q: Queryable, userId: string, key: string, answer: StoredAnswer): Promise<void> {
    await q.query(`UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE user_id = $1 AND key = $2`,
      [userId, key, answer.status, JSON.stringify(answer.body)]);
  }

  /** Stores a refusal after its transaction rolled back (unless someone stored an answer first). */
  async storeRefusal(q: Queryable, userId: string, r: IdempotencyRequest, answer: StoredAnswer): Promise<void> {
    await q.query(
      `INSERT INTO idempotency_keys (user_id, key, request_hash, response_status, response_body) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING`,
      [userId, r.key, r.hash, answer.status, JSON.stringify(answer.body)],
    );
  }

  /** Keys older than `hours` are forgotten (the sweeper calls this). */
  async prune(q: Queryable, hours: number): Promise<number> {
    const { rowCount } = await q.query(`DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)`, [hours]);
    return rowCount ?? 0;
  }
}
