import { describe, expect, it } from 'vitest';
import { incompleteUtf8Tail } from '../../server/events/utf8-boundary.ts';

describe('incomplete UTF-8 tail', () => {
  it('holds back the start of a character whose other bytes have not arrived', () => {
    const euro = Buffer.from('€'); // e2 82 ac
    expect(incompleteUtf8Tail(Buffer.concat([Buffer.from('ab'), euro.subarray(0, 1)]))).toBe(1);
    expect(incompleteUtf8Tail(Buffer.concat([Buffer.from('ab'), euro.subarray(0, 2)]))).toBe(2);
    const emoji = Buffer.from('😀'); // 4 bytes
    expect(incompleteUtf8Tail(emoji.subarray(0, 3))).toBe(3);
  });
  it('holds nothing back for complete text, ASCII, or invalid bytes', () => {
    expect(incompleteUtf8Tail(Buffer.from('a€😀'))).toBe(0);
    expect(incompleteUtf8Tail(Buffer.from([0x61, 0xff]))).toBe(0);
    expect(incompleteUtf8Tail(Buffer.from([0x80, 0x80, 0x80]))).toBe(0);
    expect(incompleteUtf8Tail(Buffer.from([0xf8]))).toBe(0);
    expect(incompleteUtf8Tail(Buffer.alloc(0))).toBe(0);
  });
});
