-- The credit ledger: one account row per user caching what the entries say (posted credits,
-- credits held by open holds) and the quota counters admission reads, all changed under the
-- row's lock. The database itself refuses an overdraft.

CREATE TABLE credit_accounts (
  user_id uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  posted bigint NOT NULL DEFAULT 0,
  held bigint NOT NULL DEFAULT 0,
  -- Quota counters, kept by the trigger below from the VMs' states (see vm_quota_weights).
  vms integer NOT NULL DEFAULT 0,
  running integer NOT NULL DEFAULT 0,
  vcpus integer NOT NULL DEFAULT 0,
  memory_mb integer NOT NULL DEFAULT 0,
  disk_gb integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT credit_accounts_no_overdraft CHECK (posted - held >= 0),
  CONSTRAINT credit_accounts_held_positive CHECK (held >= 0),
  CONSTRAINT credit_accounts_counters_positive CHECK (vms >= 0 AND running >= 0 AND vcpus >= 0 AND memory_mb >= 0 AND disk_gb >= 0)
);

-- Append-only: every change of an account is one entry; posted = Σ posted_delta, held = Σ held_delta.
CREATE TABLE credit_entries (
  id bigserial PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('grant', 'adjustment', 'hold', 'post', 'void', 'runtime')),
  posted_delta bigint NOT NULL DEFAULT 0,
  held_delta bigint NOT NULL DEFAULT 0,
  reason text NOT NULL,
  actor_id uuid REFERENCES users(id) ON DELETE SET NULL,
  vm_id uuid REFERENCES vms(id) ON DELETE SET NULL,
  job_id uuid REFERENCES jobs(id) ON DELETE SET NULL,
  hold_id uuid,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_entries_user_idx ON credit_entries (user_id, id DESC);
-- Nothing updates or deletes entries: the console only ever appends (LedgerRepository.apply).

-- Two-phase charges: a hold is placed at admission and resolved exactly once (posted when the
-- VM was provisioned, voided when it failed or was destroyed first), or voided when it expires.
CREATE TABLE credit_holds (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  vm_id uuid REFERENCES vms(id) ON DELETE SET NULL,
  amount bigint NOT NULL CHECK (amount > 0),
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'posted', 'voided')),
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz
);
CREATE INDEX credit_holds_pending_idx ON credit_holds (expires_at) WHERE state = 'pending';
CREATE INDEX credit_holds_vm_idx ON credit_holds (vm_id);

-- Runtime metering (off unless rates are configured): charged up to here, and when the owner
-- was warned that their credits ran out (the VM is stopped if they still have none later).
ALTER TABLE vms ADD COLUMN metered_until timestamptz, ADD COLUMN credit_warned_at timestamptz;

-- Per-user limits that replace the tier's (JSON object of limit name → number or null).
ALTER TABLE users ADD COLUMN quota_overrides jsonb NOT NULL DEFAULT '{}';

-- Idempotency-Key of creates, per user: the first answer is kept and replayed.
CREATE TABLE idempotency_keys (
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key text NOT NULL,
  request_hash text NOT NULL,
  response_status integer,
  -- json, not jsonb: a replay must be byte-identical to the first answer (jsonb reorders keys).
  response_body json,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_age_idx ON idempotency_keys (created_at);

-- What one VM counts for in its owner's quota, by state. A VM that exists counts toward the
-- VM count and disk until it is destroyed (a stopped or failed VM still holds its disk); one
-- that can be running counts toward running VMs, vCPUs and memory.
CREATE FUNCTION vm_quota_weights(state text, vcpus integer, memory_mb integer, disk_gb integer,
  OUT vms integer, OUT running integer, OUT cpu integer, OUT mem integer, OUT disk integer)
LANGUAGE sql IMMUTABLE AS $$
  SELECT (state <> 'destroyed')::int,
         (state IN ('requested', 'provisioning', 'starting', 'running', 'stopping'))::int,
         CASE WHEN state IN ('requested', 'provisioning', 'starting', 'running', 'stopping') THEN vcpus ELSE 0 END,
         CASE WHEN state IN ('requested', 'provisioning', 'starting', 'running', 'stopping') THEN memory_mb ELSE 0 END,
         CASE WHEN state <> 'destroyed' THEN disk_gb ELSE 0 END
$$;

-- Keeps the account's counters equal to its VMs in the same transaction as every VM change,
-- so admission's one guarded UPDATE reads counters that cannot lag behind a transition.
CREATE FUNCTION vms_count_quota() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  o record;
  n record;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.owner_id IS NOT NULL THEN
    o := vm_quota_weights(OLD.state, OLD.vcpus, OLD.memory_mb, OLD.disk_gb);
    INSERT INTO credit_accounts (user_id) VALUES (OLD.owner_id) ON CONFLICT DO NOTHING;
    UPDATE credit_accounts SET vms = vms - o.vms, running = running - o.running, vcpus = vcpus - o.cpu,
      memory_mb = memory_mb - o.mem, disk_gb = disk_gb - o.disk, updated_at = now()
    WHERE user_id = OLD.owner_id;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.owner_id IS NOT NULL THEN
    n := vm_quota_weights(NEW.state, NEW.vcpus, NEW.memory_mb, NEW.disk_gb);
    INSERT INTO credit_accounts (user_id) VALUES (NEW.owner_id) ON CONFLICT DO NOTHING;
    UPDATE credit_accounts SET vms = vms + n.vms, running = running + n.running, vcpus = vcpus + n.cpu,
      memory_mb = memory_mb + n.mem, disk_gb = disk_gb + n.disk, updated_at = now()
    WHERE user_id = NEW.owner_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER vms_count_quota AFTER INSERT OR DELETE OR UPDATE OF state, owner_id, vcpus, memory_mb, disk_gb ON vms
  FOR EACH ROW EXECUTE FUNCTION vms_count_quota();

-- Accounts for users and VMs that exist already.
INSERT INTO credit_accounts (user_id) SELECT id FROM users ON CONFLICT DO NOTHING;
UPDATE credit_accounts a SET vms = c.vms, running = c.running, vcpus = c.cpu, memory_mb = c.mem, disk_gb = c.disk
FROM (
  SELECT owner_id, sum(w.vms)::int AS vms, sum(w.running)::int AS running, sum(w.cpu)::int AS cpu,
         sum(w.mem)::int AS mem, sum(w.disk)::int AS disk
  FROM vms, LATERAL vm_quota_weights(vms.state, vms.vcpus, vms.memory_mb, vms.disk_gb) w
  WHERE owner_id IS NOT NULL GROUP BY owner_id
) c WHERE a.user_id = c.owner_id;
