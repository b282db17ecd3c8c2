/**
 * `crypto.randomUUID` exists only in secure contexts (https, localhost); a console reached over
 * plain http on a LAN address still needs keys, and `getRandomValues` works everywhere.
 */
function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The Idempotency-Key of one create attempt (one per opening of the dialog). The server answers
 * a repeated key with its first answer, so a double click or a retry after a lost answer cannot
 * create or charge twice. Two rules keep one key from meaning two things:
 * - a changed body gets a fresh key: the server refuses (422) a key reused with another body;
 * - after a refusal the next click is a new attempt: the server stores refusals under the key
 *   and would replay the old one, even after a grant made the same size affordable.
 */
export class CreateAttemptKey {
  #key = newKey();
  #body: string | null = null;

  /** The key to send with `body`. */
  for(body: unknown): string {
    const json = JSON.stringify(body);
    if (this.#body !== null && this.#body !== json) this.#key = newKey();
    this.#body = json;
    return this.#key;
  }

  /** The server answered with a refusal (it created nothing): start a new attempt. */
  refused() {
    this.#key = newKey();
    this.#body = null;
  }
}
