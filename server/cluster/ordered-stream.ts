/**
 * Messages between two servers numbered per stream and handed on in that order. NOTIFY
 * keeps the order of one sender connection, but the Socket.io adapter sends a large or
 * binary message as a row the receiver reads back asynchronously, so a later small message
 * can overtake it. The receiver therefore holds early messages until the gap is filled.
 */
export class OrderedSender {
  private next = 1;

  /** The sequence number for the next message of this stream. */
  take(): number {
    return this.next++;
  }
}

export class OrderedReceiver<T> {
  private expected = 1;
  private early = new Map<number, T>();

  constructor(private readonly deliver: (message: T) => void) {}

  receive(seq: number, message: T): void {
    if (seq < this.expected) return; // a duplicate
    this.early.set(seq, message);
    while (this.early.has(this.expected)) {
      const m = this.early.get(this.expected)!;
      this.early.delete(this.expected);
      this.expected++;
      this.deliver(m);
    }
  }

  /** Messages waiting for an earlier one; a stream that keeps many is broken. */
  get waiting(): number {
    return this.early.size;
  }
}
