-- Foundation schema: accounts, sessions, tokens, projects, inventory, jobs and their output.

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username text NOT NULL UNIQUE CHECK (username ~ '^[a-zA-Z0-9_.-]{1,64}$'),
  password_hash text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'user')),
  tier text NOT NULL DEFAULT 'free',
  -- Terminals run commands on the server: off for plain users unless an admin allows it.
  can_terminal boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Only a hash of the cookie value is stored, so a database dump cannot be replayed as a login.
CREATE TABLE sessions (
  id_hash text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);

-- Projects added in the UI; registry projects are read from the mkcli file each time.
CREATE TABLE projects (
  alias text PRIMARY KEY CHECK (alias ~ '^[a-zA-Z0-9_.-]{1,64}$'),
  dir text NOT NULL,
  created_by uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Hosts remembered from environments and their verified SSH host keys.
CREATE TABLE hosts (
  id text PRIMARY KEY,
  environment text,
  name text NOT NULL,
  host text NOT NULL,
  ssh_user text,
  port integer NOT NULL DEFAULT 22,
  host_key text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vms (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  owner_id uuid REFERENCES users(id) ON DELETE SET NULL,
  provider text NOT NULL,
  state text NOT NULL,
  vcpus integer NOT NULL,
  memory_mb integer NOT NULL,
  disk_gb integer NOT NULL,
  host text,
  ssh_port integer,
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type text NOT NULL CHECK (type IN ('make', 'ssh', 'terminal', 'vm')),
  -- What ran, for display and re-run: argv for processes, a description for others.
  command text NOT NULL,
  spec jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL CHECK (status IN ('queued', 'running', 'success', 'failed', 'canceled', 'interrupted', 'spawned')),
  exit_code integer,
  user_id uuid REFERENCES users(id) ON DELETE SET NULL,
  project_alias text,
  target text,
  host_id text,
  vm_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  last_seq bigint NOT NULL DEFAULT 0,
  bytes bigint NOT NULL DEFAULT 0,
  -- Process group of the running job, so a restarted server can kill what a crashed one left.
  pgid integer,
  truncated boolean NOT NULL DEFAULT false
);
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_status_idx ON jobs (status) WHERE status IN ('queued', 'running', 'spawned');
CREATE INDEX jobs_user_idx ON jobs (user_id, created_at DESC);

-- Every byte of output, in order. bytea because process output may hold NUL and invalid UTF-8.
CREATE TABLE job_events (
  job_id uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  stream text NOT NULL,
  chunk bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, seq)
);

CREATE TABLE audit_events (
  id bigserial PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('vm', 'system', 'admin', 'auth', 'job')),
  action text NOT NULL,
  severity text NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'critical')),
  metadata jsonb NOT NULL DEFAULT '{}',
  user_id uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, id DESC);
