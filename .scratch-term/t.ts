import pty from 'node-pty';
import headlessPkg from '@xterm/headless';
import serPkg from '@xterm/addon-serialize';

const { Terminal } = headlessPkg as any;
const { SerializeAddon } = serPkg as any;
const t = new Terminal({ cols: 80, rows: 24, allowProposedApi: true, scrollback: 1000 });
const s = new SerializeAddon();
t.loadAddon(s);
const p = pty.spawn('/bin/bash', ['-c', 'printf "\\033[2J\\033[5;10HMARK€"; exit 3'], { cols: 80, rows: 24, cwd: '/tmp', env: { PATH: process.env.PATH!, TERM: 'xterm-256color' }, encoding: null } as any);
p.onData((d: any) => { console.log('data', Buffer.isBuffer(d), d.length); t.write(d); });
p.onExit((e) => { console.log('exit', e); t.write('', () => { console.log(JSON.stringify(s.serialize())); console.log(t.buffer.active.getLine(4)?.translateToString()); }); });
