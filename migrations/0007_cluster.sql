-- Several console servers on one database.

-- One row per running server process, kept fresh by its heartbeat. A row whose heartbeat is
-- older than SERVER_DEAD_SECONDS belongs to a dead server: another server claims it (deletes
-- the row) and marks its jobs interrupted. `machine` (hostname and boot id) tells whether a
-- dead server's process groups can be killed from here.
CREATE TABLE console_servers (
  id uuid PRIMARY KEY,
  machine text NOT NULL,
  pid integer NOT NULL,
  -- Start time of that pid as the kernel reports it, so a reused pid is not taken for it.
  proc_start text,
  address text,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- The server that runs (or ran) a job. Not a foreign key: a dead server's row is deleted.
ALTER TABLE jobs ADD COLUMN server_id uuid;
CREATE INDEX jobs_unfinished_server ON jobs (server_id) WHERE status IN ('queued', 'running', 'spawned');

-- Socket.io's Postgres adapter: messages too large for NOTIFY (8000 bytes) pass through here.
CREATE TABLE socket_io_attachments (
  id bigserial UNIQUE,
  created_at timestamptz DEFAULT now(),
  payload bytea
);
