import type { Namespace, Socket } from 'socket.io';
import type { Job, JobsClientToServer, JobsServerToClient } from '../../src/lib/shared/jobs.ts';
import { isFinal } from '../../src/lib/shared/jobs.ts';
import type { JobStreamHub } from '../events/job-stream.hub.ts';
import { toErrorBody, validationFailed } from '../platform/errors.ts';
import type { SocketData } from '../platform/socket.ts';
import type { JobService } from './job.service.ts';

export type JobsNamespace = Namespace<JobsClientToServer, JobsServerToClient, Record<string, never>, SocketData>;
type JobsSocket = Socket<JobsClientToServer, JobsServerToClient, Record<string, never>, SocketData>;

const ackError = (err: unknown) => ({ error: toErrorBody(err).body.error });

/** /jobs namespace: join a job's stream (replay then live), leave it, cancel it; list updates. */
export function registerJobSockets(nsp: JobsNamespace, jobs: JobService, hub: JobStreamHub) {
  nsp.on('connection', (socket: JobsSocket) => {
    const user = socket.data.user;
    // List views get job:updated for the jobs they may see.
    void socket.join(user.role === 'admin' ? ['admins', `user:${user.id}`] : `user:${user.id}`);

    socket.on('join-job', async (msg, ack) => {
      try {
        const after = Number(msg?.after ?? 0);
        if (!Number.isInteger(after) || after < 0) throw validationFailed('after must be a seq number (0 or more)');
        const job = await jobs.get(user, String(msg?.jobId));
        ack?.({ ok: true, job });
        const done = isFinal(job.status) ? { jobId: job.id, status: job.status, exitCode: job.exitCode } : undefined;
        hub.subscribe(socket as Socket, job.id, after, job.lastSeq, done, msg?.encoding === 'binary' ? 'binary' : 'utf8');
      } catch (err) {
        ack?.(ackError(err));
      }
    });

    socket.on('leave-job', (msg, ack) => {
      hub.unsubscribe(socket as Socket, String(msg?.jobId));
      ack?.({ ok: true });
    });

    socket.on('cancel-job', async (msg, ack) => {
      try {
        const job = await jobs.cancel(user, String(msg?.jobId));
        ack?.({ ok: true, job });
      } catch (err) {
        ack?.(ackError(err));
      }
    });

    socket.on('disconnect', () => hub.unsubscribe(socket as Socket));
  });

  return {
    /** Tells list views about a job's new state. */
    updated(job: Job) {
      const rooms = ['admins'];
      if (job.userId) rooms.push(`user:${job.userId}`);
      nsp.to(rooms).emit('job:updated', { job });
    },
  };
}
