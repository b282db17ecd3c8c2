import { PtySource } from '../server/sources/pty.source.ts';
const runs = Number(process.argv[2] ?? 30);
let lost = 0;
for (let i = 0; i < runs; i++) {
  const chunks: Buffer[] = [];
  const sink: any = { write: (_s: string, b: Buffer) => { chunks.push(Buffer.from(b)); return true; }, meta() {}, whenDrained: async () => {} };
  const src = new PtySource({ argv: ['/bin/sh', '-c', 'seq 1 20000; echo "last line of burst"'], cwd: '/tmp', env: { PATH: process.env.PATH! }, cols: 80, rows: 24, sink });
  const exit = await src.finished;
  const out = Buffer.concat(chunks).toString();
  const ok = out.includes('last line of burst');
  if (!ok) { lost++; console.log('LOST', exit, out.length, JSON.stringify(out.slice(-60))); }
  src.dispose();
}
console.log(`lost ${lost}/${runs}`);
