-- Account management and the login throttle.

-- A disabled account keeps everything but cannot sign in or use its tokens. A deleted one is
-- kept as a row (deleted_at) so its jobs, audit events and ledger history still name it; its
-- username becomes free for a new account.
ALTER TABLE users
  ADD COLUMN disabled_at timestamptz,
  ADD COLUMN deleted_at timestamptz,
  ADD COLUMN last_login_at timestamptz,
  ADD COLUMN password_changed_at timestamptz;
ALTER TABLE users DROP CONSTRAINT users_username_key;
CREATE UNIQUE INDEX users_username_live ON users (username) WHERE deleted_at IS NULL;

-- NULL: the token never expires.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;

-- Failed logins per key (`user:<name>` and `ip:<address>`), in the database so that every
-- server behind a load balancer counts the same attempts.
CREATE TABLE login_throttle (
  key text PRIMARY KEY,
  failures integer NOT NULL CHECK (failures >= 0),
  last_failure_at timestamptz NOT NULL,
  locked_until timestamptz
);
