/**
 * Every Postgres advisory lock id the console takes, named in one place so two features
 * never pick the same number by accident. The values are part of the deployed contract:
 * servers of different versions on one database must agree on them, so they never change
 * (a test pins them).
 */
export const ADVISORY_LOCKS = {
  /** Held while migrations run, so two servers starting together do not race. */
  migrations: 727274,
  /** Held by a VM admission while it reads and uses the local Docker host's capacity. */
  vmCapacity: 727275,
} as const;
