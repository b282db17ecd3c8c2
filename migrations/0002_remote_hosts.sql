-- Remote hosts: inventory hosts synced from environments/<env>/config.yml, and the SSH host
-- keys the console trusts (beside the user's own known_hosts files).

-- The 0001 table never held rows: reshape it. A host is unique per environment and name;
-- one removed from its file keeps its row (removed_at set) so its jobs keep their history.
DROP TABLE hosts;
CREATE TABLE hosts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  environment text NOT NULL,
  name text NOT NULL,
  -- As written in config.yml: an address, a DNS name or an alias of the ssh config.
  host text NOT NULL,
  -- ansible_user / port from config.yml; null means "as the ssh config says".
  ssh_user text,
  port integer CHECK (port BETWEEN 1 AND 65535),
  -- Every other key of the host's entry in config.yml, for display.
  vars jsonb NOT NULL DEFAULT '{}',
  removed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (environment, name)
);

-- Host keys, by the name OpenSSH looks them up under (HostKeyAlias, else the lowercased
-- HostName, as [name]:port when the port is not 22). A key is 'pending' when a server
-- presented it and nobody has accepted it yet; 'trusted' once an admin accepted it.
CREATE TABLE known_host_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  lookup_name text NOT NULL,
  key_type text NOT NULL,
  -- The key's wire blob; the fingerprint is derived from it and kept for lookups.
  key_blob bytea NOT NULL,
  fingerprint text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'trusted')),
  accepted_by uuid REFERENCES users(id) ON DELETE SET NULL,
  accepted_at timestamptz,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (lookup_name, fingerprint)
);
CREATE INDEX known_host_keys_name_idx ON known_host_keys (lookup_name);

-- jobs.host_id holds hosts.id of SSH jobs and SSH shells (text, as 0001 made it).
CREATE INDEX jobs_host_idx ON jobs (host_id, created_at DESC) WHERE host_id IS NOT NULL;
