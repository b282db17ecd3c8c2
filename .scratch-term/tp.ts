import { PtySource } from '../server/sources/pty.source.ts';
import pty from 'node-pty';
const file = '/tmp/vmo-bench-terminal-50mb.txt';
// raw node-pty
{
  const t0 = performance.now(); let n = 0; let chunks = 0;
  const p = pty.spawn('/bin/cat', [file], { cols: 80, rows: 24, encoding: null } as any);
  p.onData((d: any) => { n += d.length; chunks++; });
  await new Promise<void>((r) => p.onExit(() => r()));
  console.log('raw node-pty', (n / 1048576 / ((performance.now() - t0) / 1000)).toFixed(1), 'MB/s', 'avg chunk', Math.round(n / chunks));
}
{
  const sink: any = { write: () => true, meta() {}, whenDrained: async () => {} };
  const t0 = performance.now(); let n = 0;
  const src = new PtySource({ argv: ['/bin/cat', file], cwd: '/tmp', env: { PATH: process.env.PATH! }, cols: 80, rows: 24, sink });
  src.onOutput((d) => { n += d.length; });
  await src.finished;
  console.log('PtySource (headless parse, no db)', (n / 1048576 / ((performance.now() - t0) / 1000)).toFixed(1), 'MB/s');
}
