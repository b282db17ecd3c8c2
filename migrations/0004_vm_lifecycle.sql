-- What the VM engine needs beyond 0003: the queue job behind each operation (admins retry
-- or discard it there), what a provider could not enforce, and the lifecycle rules each VM
-- was admitted with (auto-stop after inactivity, expiry, ephemeral), with the warnings sent.

ALTER TABLE vm_operations
  -- The pg-boss job carrying it out; retry and discard act on it.
  ADD COLUMN queue_job_id uuid;
CREATE INDEX vm_operations_job_idx ON vm_operations (job_id);

ALTER TABLE vms
  ADD COLUMN not_enforced text[] NOT NULL DEFAULT '{}',
  -- Minutes without SSH, exec or terminal use after which a running VM is stopped; NULL = never.
  ADD COLUMN auto_stop_minutes integer CHECK (auto_stop_minutes IS NULL OR auto_stop_minutes > 0),
  -- Destroyed once its first exec job has finished.
  ADD COLUMN ephemeral boolean NOT NULL DEFAULT false,
  -- Set when the warning before an auto-stop / expiry was sent, so it is sent once per period.
  ADD COLUMN idle_warned_at timestamptz,
  ADD COLUMN expiry_warned_at timestamptz;
-- One name per owner among VMs that still exist (a destroyed VM's name may be reused).
CREATE UNIQUE INDEX vms_owner_name_live_idx ON vms (owner_id, lower(name)) WHERE state <> 'destroyed';

-- Which console installation this database belongs to. Machines are labelled with it, so two
-- consoles sharing one Docker engine (or one OVH project) never take each other's machines
-- for orphans.
CREATE TABLE console_identity (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  singleton boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton)
);
INSERT INTO console_identity DEFAULT VALUES;
