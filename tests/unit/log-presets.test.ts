import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatJournalEntry, parsePreset, startPreset, type PresetOutput } from '../../server/ssh/log-presets.ts';
import { shQuote } from '../../server/ssh/remote-command.ts';

const text = (outs: PresetOutput[]) => Buffer.concat(outs.map((o) => o.data)).toString();

describe('remote shell quoting', () => {
  it('passes any string through sh unchanged', () => {
    for (const v of [`it's`, '$(id) `id` $HOME', 'a"b\\c', "''", 'new\nline', '*']) {
      expect(execFileSync('sh', ['-c', `printf %s ${shQuote(v)}`]).toString()).toBe(v);
    }
  });
});

describe('log presets', () => {
  it('validates preset arguments', () => {
    expect(parsePreset({ kind: 'journalctl', unit: 'nginx.service' })).toEqual({ kind: 'journalctl', unit: 'nginx.service' });
    expect(() => parsePreset({ kind: 'journalctl', unit: 'x; rm -rf /' })).toThrow(/unit/);
    expect(() => parsePreset({ kind: 'docker-logs', container: '-f' })).toThrow(/container/);
    expect(() => parsePreset({ kind: 'tail', path: 'relative/file' })).toThrow(/absolute/);
    expect(() => parsePreset({ kind: 'rm' })).toThrow(/kind/);
  });

  it('journalctl: renders entries, tracks the cursor across split chunks, and resumes after it', () => {
    const run = startPreset({ kind: 'journalctl', unit: 'web' }, null, 50);
    expect(run.command).toBe(`journalctl -f -o json -n 50 -u 'web'`);
    const e1 = JSON.stringify({ __CURSOR: 's=1', __REALTIME_TIMESTAMP: '1763784000000000', _HOSTNAME: 'h', SYSLOG_IDENTIFIER: 'web', _PID: '7', MESSAGE: 'one', PRIORITY: '6' });
    const e2 = JSON.stringify({ __CURSOR: 's=2', __REALTIME_TIMESTAMP: '1763784001000000', SYSLOG_IDENTIFIER: 'web', MESSAGE: [0x68, 0x69], PRIORITY: '3' });
    const line = Buffer.from(`${e1}\n${e2}\n`);
    const outs = [...run.stdout(line.subarray(0, 30)), ...run.stdout(line.subarray(30))];
    expect(outs.map((o) => o.stream)).toEqual(['stdout', 'stderr']);
    expect(text(outs)).toBe('2025-11-22T04:00:00.000Z h web[7]: one\n2025-11-22T04:00:01.000Z web: hi\n');
    expect(run.position()).toEqual({ kind: 'journalctl', cursor: 's=2' });

    const resumed = startPreset({ kind: 'journalctl', unit: 'web' }, run.position(), 50);
    expect(resumed.command).toBe(`journalctl -f -o json --no-tail --after-cursor='s=2' -u 'web'`);
  });

  it('journalctl: passes through lines that are not JSON', () => {
    const run = startPreset({ kind: 'journalctl' }, null, 10);
    expect(text(run.stdout(Buffer.from('-- No entries --\n')))).toBe('-- No entries --\n');
    expect(formatJournalEntry({ MESSAGE: 'x' })).toBe('- unknown: x\n');
  });

  it('docker logs: resumes --since the last timestamp and skips the lines already seen at that instant', () => {
    const run = startPreset({ kind: 'docker-logs', container: 'api' }, null, 100);
    expect(run.command).toBe(`docker logs --follow --timestamps --tail 100 'api' 2>&1`);
    run.stdout(Buffer.from('2026-01-01T00:00:00.1Z a\n2026-01-01T00:00:00.2Z b\n2026-01-01T00:00:00.2Z c\n'));
    const pos = run.position();
    expect(pos).toEqual({ kind: 'docker-logs', since: '2026-01-01T00:00:00.2Z', seenAtSince: 2 });

    const resumed = startPreset({ kind: 'docker-logs', container: 'api' }, pos, 100);
    expect(resumed.command).toBe(`docker logs --follow --timestamps --since '2026-01-01T00:00:00.2Z' 'api' 2>&1`);
    // --since is inclusive: the two lines at .2Z come again, then a third at .2Z that is new.
    const outs = resumed.stdout(Buffer.from('2026-01-01T00:00:00.2Z b\n2026-01-01T00:00:00.2Z c\n2026-01-01T00:00:00.2Z d\n2026-01-01T00:00:00.3Z e\n'));
    expect(text(outs)).toBe('2026-01-01T00:00:00.2Z d\n2026-01-01T00:00:00.3Z e\n');
    expect(resumed.position()).toEqual({ kind: 'docker-logs', since: '2026-01-01T00:00:00.3Z', seenAtSince: 1 });
  });

  describe('tail -F', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-tail-'));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, `it's a log`);

    /** Runs the preset's remote script locally (with a timeout in place of following forever) and feeds the parser. */
    const runOnce = (from: Parameters<typeof startPreset>[1]) => {
      const run = startPreset({ kind: 'tail', path: file }, from, 2);
      const cmd = run.command.replace(/exec tail /, 'exec timeout 0.3 tail ');
      let stdout: Buffer;
      try {
        stdout = execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'ignore'] });
      } catch (err) {
        stdout = (err as { stdout: Buffer }).stdout; // timeout's exit status
      }
      const outs = [...run.stdout(stdout.subarray(0, 5)), ...run.stdout(stdout.subarray(5))];
      return { run, text: text(outs), notes: run.takeNotes() };
    };

    it('starts with the last lines, then resumes at the byte offset when the file is the same', () => {
      fs.writeFileSync(file, 'l1\nl2\nl3\n');
      const first = runOnce(null);
      expect(first.text).toBe('l2\nl3\n');
      const pos = first.run.position();
      expect(pos).toMatchObject({ kind: 'tail', offset: 9 });
      expect((pos as { file: string }).file).toMatch(/^\d+:\d+$/);

      fs.appendFileSync(file, 'l4\n');
      const second = runOnce(pos);
      expect(second.text).toBe('l4\n');
      expect(second.notes).toEqual([]);
      expect(second.run.position()).toMatchObject({ offset: 12 });
    });

    it('reads a replaced file from its start and says so', () => {
      fs.writeFileSync(file, 'a\nb\n');
      const first = runOnce(null);
      fs.rmSync(file);
      fs.writeFileSync(file, 'new1\n');
      const second = runOnce(first.run.position());
      expect(second.text).toBe('new1\n');
      expect(second.notes.join()).toMatch(/replaced or truncated/);
    });

    it('reads a truncated file from its start', () => {
      fs.writeFileSync(file, 'x'.repeat(100) + '\n');
      const first = runOnce(null);
      fs.truncateSync(file, 0);
      fs.appendFileSync(file, 'after\n');
      const second = runOnce(first.run.position());
      expect(second.text).toBe('after\n');
      expect(second.notes.join()).toMatch(/replaced or truncated/);
    });
  });
});
