import headless from '@xterm/headless';
import fs from 'node:fs';
const data = fs.readFileSync('/tmp/vmo-bench-terminal-50mb.txt').subarray(0, 20 * 1048576);
for (const [label, opts] of [['scrollback 5000', { scrollback: 5000 }], ['scrollback 1000', { scrollback: 1000 }], ['scrollback 0', { scrollback: 0 }]] as const) {
  const t = new headless.Terminal({ cols: 80, rows: 24, allowProposedApi: true, ...opts });
  const t0 = performance.now();
  for (let off = 0; off < data.length; off += 4096) t.write(data.subarray(off, off + 4096));
  await new Promise<void>((r) => t.write('', r));
  console.log(label, (data.length / 1048576 / ((performance.now() - t0) / 1000)).toFixed(1), 'MB/s');
  t.dispose();
}
{
  const t = new headless.Terminal({ cols: 80, rows: 24, allowProposedApi: true, scrollback: 5000 });
  const s = data.toString('utf8');
  const t0 = performance.now();
  for (let off = 0; off < s.length; off += 4096) t.write(s.slice(off, off + 4096));
  await new Promise<void>((r) => t.write('', r));
  console.log('string input', (data.length / 1048576 / ((performance.now() - t0) / 1000)).toFixed(1), 'MB/s');
}
