import { io } from 'socket.io-client';
const s = io('http://127.0.0.1:3999', { transports: ['websocket'] });
s.on('connect', () => console.log('connected'));
s.on('login', () => { console.log('login'); setTimeout(() => s.emit('input', 'x'), 300); });
s.on('data', (d: string) => console.log('data', JSON.stringify(d)));
s.on('connect_error', (e) => console.log('err', e.message));
setTimeout(() => process.exit(0), 2000);
