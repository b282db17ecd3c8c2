-- The VM engine: what the console needs to keep about each VM, and one row per operation
-- asked of it (create, start, stop, restart, destroy), each with the job that logs it.

ALTER TABLE vms
  ADD CONSTRAINT vms_state_check CHECK (state IN (
    'requested', 'provisioning', 'starting', 'running', 'stopping', 'stopped', 'destroying', 'destroyed', 'error')),
  ADD COLUMN provider_id text,
  ADD COLUMN image text,
  ADD COLUMN ssh_user text,
  -- The VM's own key pair: the private key encrypted with the server secret, never in clear.
  ADD COLUMN ssh_public_key text,
  ADD COLUMN ssh_private_key_enc bytea,
  -- Host keys read out of band from the provider and pinned before the first connection.
  ADD COLUMN host_keys text[] NOT NULL DEFAULT '{}',
  -- Why the VM is in `error` (or what the provider could not enforce), for people.
  ADD COLUMN status_detail text,
  ADD COLUMN runtime_seconds bigint NOT NULL DEFAULT 0,
  ADD COLUMN running_since timestamptz,
  ADD COLUMN last_activity_at timestamptz,
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN destroyed_at timestamptz;
CREATE INDEX vms_owner_idx ON vms (owner_id, created_at DESC);
CREATE INDEX vms_live_idx ON vms (state) WHERE state <> 'destroyed';

CREATE TABLE vm_operations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  vm_id uuid NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
  action text NOT NULL CHECK (action IN ('create', 'start', 'stop', 'restart', 'destroy')),
  -- queued → running → succeeded | failed; dead: retries exhausted (admins retry or discard).
  status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'discarded')),
  job_id uuid REFERENCES jobs(id) ON DELETE SET NULL,
  requested_by uuid REFERENCES users(id) ON DELETE SET NULL,
  error text,
  attempts integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX vm_operations_vm_idx ON vm_operations (vm_id, created_at);
CREATE INDEX vm_operations_open_idx ON vm_operations (status) WHERE status IN ('queued', 'running', 'dead');
