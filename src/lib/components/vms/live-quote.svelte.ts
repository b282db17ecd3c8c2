import { errorMessage } from '$lib/api/client';
import { vmsApi, type VmSize } from '$lib/api/vms';
import type { Quote } from '$lib/shared/credits';

const sameSize = (a: VmSize | null, b: VmSize | null) =>
  !!a && !!b && a.vcpus === b.vcpus && a.memoryMb === b.memoryMb && a.diskGb === b.diskGb;

/**
 * The price quote for the size being typed: asked once typing pauses, and only the answer for
 * the latest size is kept (an older request that answers late is dropped). The server judges
 * again at create; the quote only says beforehand what it would say.
 */
export class LiveQuote {
  /** The latest answer and the size it is for; it may lag the size being typed. */
  quote = $state<Quote | null>(null);
  quotedSize = $state<VmSize | null>(null);
  error = $state<string | null>(null);
  /** The size asked for last (null: not a valid size, nothing to quote). */
  wanted = $state<VmSize | null>(null);

  #timer: ReturnType<typeof setTimeout> | undefined;
  #run = 0;

  constructor(private readonly delayMs = 300) {}

  /** Whether the shown answer is for the size asked for last. */
  get current(): boolean {
    return sameSize(this.quotedSize, this.wanted);
  }

  /** Waiting for the answer about the size asked for last. */
  get pending(): boolean {
    return this.wanted !== null && !this.current && this.error === null;
  }

  /** Asks for `size` once no other size follows within the delay; null clears the wish. */
  request(size: VmSize | null) {
    if (sameSize(size, this.wanted)) return;
    this.wanted = size;
    this.error = null;
    clearTimeout(this.#timer);
    const run = ++this.#run;
    if (!size) return;
    this.#timer = setTimeout(() => void this.#fetch(size, run), this.delayMs);
  }

  /** Asks again for the same size now, e.g. after a create was refused (the account moved). */
  refresh() {
    const size = this.wanted;
    if (!size) return;
    clearTimeout(this.#timer);
    void this.#fetch(size, ++this.#run);
  }

  /** Forgets everything (the dialog closed). */
  reset() {
    clearTimeout(this.#timer);
    this.#run++;
    this.quote = null;
    this.quotedSize = null;
    this.wanted = null;
    this.error = null;
  }

  async #fetch(size: VmSize, run: number) {
    try {
      const quote = await vmsApi.quote(size);
      if (run !== this.#run) return;
      this.quote = quote;
      this.quotedSize = size;
    } catch (err) {
      if (run === this.#run) this.error = errorMessage(err);
    }
  }
}
