import type { Namespace, Socket } from 'socket.io';
import type { User } from '../../src/lib/shared/auth.ts';
import type { TerminalsClientToServer, TerminalsServerToClient } from '../../src/lib/shared/terminals.ts';
import { toErrorBody, unauthenticated } from '../platform/errors.ts';
import type { SocketData } from '../platform/socket.ts';
import type { TerminalService } from './terminal.service.ts';

export type TerminalsNamespace = Namespace<TerminalsClientToServer, TerminalsServerToClient, Record<string, never>, SocketData>;
type TerminalsSocket = Socket<TerminalsClientToServer, TerminalsServerToClient, Record<string, never>, SocketData>;

const ackError = (err: unknown) => ({ error: toErrorBody(err).body.error });

/**
 * /terminals namespace. `attach` checks access (owner or admin) against the current state
 * of the account, so a revoked session or permission stops new attaches; the other events
 * act only on terminals this socket is attached to, without a database round trip, so
 * keystrokes reach the PTY at once.
 */
export function registerTerminalSockets(
  nsp: TerminalsNamespace,
  terminals: TerminalService,
  /** Re-reads the socket's user from its cookie or token (null when the session is gone). */
  currentUser: (socket: TerminalsSocket) => Promise<User | null>,
) {
  nsp.on('connection', (socket: TerminalsSocket) => {
    socket.on('attach', async (msg, ack) => {
      try {
        const user = await currentUser(socket);
        if (!user) throw unauthenticated('Your session has ended; sign in again');
        await terminals.attach(user, socket, msg ?? {}, (res) => ack?.({ ok: true, ...res }));
      } catch (err) {
        ack?.(ackError(err));
      }
    });

    socket.on('detach', (msg, ack) => {
      terminals.detach(socket.id, String(msg?.jobId));
      ack?.({ ok: true });
    });

    // Never log input: it may hold passwords.
    socket.on('input', (msg) => {
      if (msg && typeof msg.jobId === 'string') terminals.input(socket.id, msg.jobId, msg.data);
    });

    socket.on('resize', (msg) => {
      if (msg && typeof msg.jobId === 'string') terminals.resize(socket.id, msg.jobId, msg.cols, msg.rows);
    });

    socket.on('ack', (msg) => {
      if (msg && typeof msg.jobId === 'string') terminals.ack(socket.id, msg.jobId, msg.bytes);
    });

    socket.on('take-keyboard', async (msg, ack) => {
      const jobId = String(msg?.jobId);
      if (await terminals.takeKeyboard(socket.id, jobId)) ack?.({ ok: true, keyboard: true });
      else ack?.({ error: { code: 'not_found', message: 'Not attached to this terminal (attach first)' } });
    });

    socket.on('disconnect', () => terminals.detach(socket.id));
  });
}
