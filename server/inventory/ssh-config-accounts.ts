/**
 * Local account lookups OpenSSH does through getpwnam(3)/getgrgid(3), read from
 * /etc/passwd and /etc/group (the files NSS source; network directories are not
 * consulted). Used for `~user` paths and for the owner/group check on included files.
 */
import fs from 'node:fs';

export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function readLines(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** Every entry of /etc/passwd, in file order. */
export function listAccounts(): Account[] {
  const accounts: Account[] = [];
  for (const line of readLines('/etc/passwd')) {
    const f = line.split(':');
    if (f.length < 7 || f[0] === '' || f[0].startsWith('#')) continue;
    accounts.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] });
  }
  return accounts;
}

export function lookupAccount(name: string): Account | undefined {
  return listAccounts().find((a) => a.name === name);
}

export function lookupAccountByUid(uid: number): Account | undefined {
  return listAccounts().find((a) => a.uid === uid);
}

/** The supplementary member list of a group from /etc/group, or undefined when there is no such group. */
export function groupMembers(gid: number): string[] | undefined {
  for (const line of readLines('/etc/group')) {
    const f = line.split(':');
    if (f.length < 4 || Number(f[2]) !== gid || f[2] === '') continue;
    return f[3] === '' ? [] : f[3].split(',');
  }
  return undefined;
}
