/**
 * The owner/mode check OpenSSH applies to ~/.ssh/config and every included file
 * (readconf.c, SSHCONF_CHECKPERM): the file must belong to root or to the user running
 * ssh, and must not be writable by others. Debian's client (the reference here) also
 * accepts a group-writable file when that group holds nobody but the file's owner — the
 * per-user groups Debian creates by default — and that is replicated too.
 */
import type { Stats } from 'node:fs';
import { groupMembers, listAccounts, lookupAccountByUid } from './ssh-config-accounts.ts';

function groupHoldsOnlyOwner(gid: number, ownerUid: number): boolean {
  const supplementary = groupMembers(gid);
  if (supplementary === undefined) return false;
  const owner = lookupAccountByUid(ownerUid);
  if (!owner) return false;
  const members = new Set<string>(supplementary);
  for (const account of listAccounts()) if (account.gid === gid) members.add(account.name);
  return members.size > 0 && [...members].every((name) => name === owner.name);
}

/** Whether OpenSSH (as packaged by Debian) would read a config file with these attributes. */
export function hasSafeOwnerAndMode(st: Pick<Stats, 'uid' | 'gid' | 'mode'>, currentUid: number): boolean {
  if (st.uid !== 0 && st.uid !== currentUid) return false;
  if ((st.mode & 0o002) !== 0) return false;
  if ((st.mode & 0o020) !== 0) return groupHoldsOnlyOwner(st.gid, st.uid);
  return true;
}
