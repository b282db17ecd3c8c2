import { describe, expect, it } from 'vitest';
import { LineBuilder } from '../../src/lib/shared/log-lines.ts';

const lines = (b: LineBuilder) => b.all().map((l) => `${l.stream}:${l.text}`);

describe('log lines', () => {
  it('joins output split across events and splits on newlines', () => {
    const b = new LineBuilder();
    b.push(1, 'stdout', 'hel');
    b.push(2, 'stdout', 'lo\nwor');
    b.push(3, 'stdout', 'ld\n');
    expect(lines(b)).toEqual(['stdout:hello', 'stdout:world']);
    expect(b.all()[1].seq).toBe(2);
  });
  it('puts system events on lines of their own', () => {
    const b = new LineBuilder();
    b.push(1, 'stdout', 'partial');
    b.push(2, 'system', 'Exited with code 0');
    expect(lines(b)).toEqual(['stdout:partial', 'system:Exited with code 0']);
  });
  it('shows a carriage-return progress bar as its final state', () => {
    const b = new LineBuilder();
    b.push(1, 'stdout', '\r10%\r20%');
    b.push(2, 'stdout', '\r100%\r\n');
    expect(lines(b)).toEqual(['stdout:100%']);
    const c = new LineBuilder();
    c.push(1, 'stdout', 'abcdef\rXY\n');
    expect(lines(c)).toEqual(['stdout:XYcdef']);
  });
  it('ignores terminal resize and input events', () => {
    const b = new LineBuilder();
    b.push(1, 'resize', '80x24');
    b.push(2, 'pty', 'x\n');
    expect(lines(b)).toEqual(['pty:x']);
  });
});
