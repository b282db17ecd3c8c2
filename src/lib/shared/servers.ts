/** A console server process sharing the database (several servers; see docs/operations.md). */
export interface ConsoleServer {
  id: string;
  /** host:port it listens on. */
  address: string | null;
  /** Hostname and boot: servers with the same value share process ids. */
  machine: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
  /** Heartbeat within SERVER_DEAD_SECONDS; a dead one is claimed and removed at the next check. */
  alive: boolean;
  /** The server that answered this request. */
  self: boolean;
  /** Jobs it runs now (terminals included). */
  runningJobs: number;
}

export interface ServerListing {
  servers: ConsoleServer[];
  heartbeatSeconds: number;
  deadSeconds: number;
}
