import { io, type Socket } from 'socket.io-client';
import { createSubscriber } from 'svelte/reactivity';
import type { EventsMap } from '@socket.io/component-emitter';
import type { JobsClientToServer, JobsServerToClient } from '$lib/shared/jobs';

/**
 * The one Socket.io client per namespace. Every page shares it, so a console and a job
 * list open at the same time use one connection. The session cookie authenticates it.
 * Sockets carry only "there is more after seq N"; Postgres (over HTTP) is the truth, so
 * nothing here buffers or replays.
 */
export type JobsSocket = Socket<JobsServerToClient, JobsClientToServer>;

export type ConnectionPhase = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/**
 * A socket's connection state, readable from components and `$derived` like a rune:
 * reading `phase` or `connected` inside an effect re-runs it when the state changes.
 */
export class ConnectionState {
  #subscribe: () => void;
  #error: string | null = null;
  #everConnected = false;

  constructor(private readonly socket: Socket) {
    this.#subscribe = createSubscriber((update) => {
      const onConnect = () => {
        this.#everConnected = true;
        this.#error = null;
        update();
      };
      const onError = (err: Error) => {
        this.#error = err.message;
        update();
      };
      socket.on('connect', onConnect);
      socket.on('disconnect', update);
      socket.on('connect_error', onError);
      socket.io.on('reconnect_attempt', update);
      socket.io.on('reconnect_failed', update);
      return () => {
        socket.off('connect', onConnect);
        socket.off('disconnect', update);
        socket.off('connect_error', onError);
        socket.io.off('reconnect_attempt', update);
        socket.io.off('reconnect_failed', update);
      };
    });
    socket.on('connect', () => (this.#everConnected = true));
  }

  get connected(): boolean {
    this.#subscribe();
    return this.socket.connected;
  }

  get phase(): ConnectionPhase {
    this.#subscribe();
    if (this.socket.connected) return 'connected';
    if (!this.socket.active) return 'disconnected';
    return this.#everConnected ? 'reconnecting' : 'connecting';
  }

  /** The last connection error (e.g. `unauthenticated`), cleared on connect. */
  get error(): string | null {
    this.#subscribe();
    return this.#error;
  }
}

interface Entry {
  socket: Socket;
  state: ConnectionState;
}

const sockets = new Map<string, Entry>();

function entry(namespace: string): Entry {
  let e = sockets.get(namespace);
  if (!e) {
    const socket = io(namespace, { withCredentials: true, transports: ['websocket', 'polling'] });
    e = { socket, state: new ConnectionState(socket) };
    sockets.set(namespace, e);
  }
  return e;
}

/** The shared socket for a namespace (`/jobs`, `/terminals`, …), typed by its event maps. */
export function getSocket<S extends EventsMap, C extends EventsMap>(namespace: string): Socket<S, C> {
  return entry(namespace).socket as unknown as Socket<S, C>;
}

/** The shared `/jobs` socket: job streams (`join-job`, `job:log`, `job:done`) and list updates (`job:updated`). */
export function jobsSocket(): JobsSocket {
  return entry('/jobs').socket as JobsSocket;
}

/** Connection state of a namespace's socket (connects it if it was not yet). */
export function connectionState(namespace = '/jobs'): ConnectionState {
  return entry(namespace).state;
}

/**
 * Background tabs throttle timers, so a socket can drop while the tab sleeps and wait
 * out a long back-off after it wakes. Ask for a connection now instead.
 */
export function reconnectNow(namespace = '/jobs'): void {
  const s = sockets.get(namespace)?.socket;
  if (s && !s.connected) s.connect();
}
