import type { ResolvedSshConfig } from '../inventory/ssh-config.ts';
import { knownHostsLookupName } from '../inventory/known-hosts.ts';
import type { SshPlan } from '../ssh/ssh-plan.ts';
import type { VmRow } from './vm.repository.ts';

/** Connect deadline for a VM's sshd (local containers answer in well under a second once running). */
const VM_CONNECT_TIMEOUT_SECONDS = 15;

/**
 * The SSH route to a provisioned VM. Nothing comes from ~/.ssh/config: the console made the
 * machine, so it knows the address, the login, the only key to log in with and the only host
 * keys to trust (read through the provider's API, so even the first connection is verified).
 * The pool key carries the port and the pinned keys: after a restart on a new port, or a
 * rebuilt machine, old connections are never reused.
 */
export function vmPlan(vm: Pick<VmRow, 'id' | 'name' | 'host' | 'sshPort' | 'sshUser' | 'hostKeys'>, privateKey: string): SshPlan {
  if (!vm.host || !vm.sshPort || !vm.sshUser) throw new Error(`VM ${vm.name} has no SSH address yet`);
  // Pinned keys are checked under a name of the VM's own; without them (a provider that cannot
  // read them out of band) the address is looked up like any host.
  const lookupName = vm.hostKeys.length ? `vm-${vm.id}` : knownHostsLookupName(vm.host, vm.sshPort);
  const config: ResolvedSshConfig = {
    host: vm.name,
    hostname: vm.host,
    user: vm.sshUser,
    port: vm.sshPort,
    identityFiles: [],
    identitiesOnly: true,
    identityAgent: 'none',
    proxyJump: null,
    proxyCommand: null,
    hostKeyAlias: vm.hostKeys.length ? lookupName : null,
    userKnownHostsFiles: [],
    globalKnownHostsFiles: [],
    hostKeyAlgorithms: null,
    serverAliveInterval: 0,
    serverAliveCountMax: 3,
    connectTimeout: VM_CONNECT_TIMEOUT_SECONDS,
    strictHostKeyChecking: 'yes',
    sources: {},
    warnings: [],
  };
  const target = {
    label: `${vm.name} (${vm.host}:${vm.sshPort})`,
    config,
    lookupName,
    pinned: { hostKeys: vm.hostKeys, privateKey, keyLabel: `the key of VM ${vm.name}` },
  };
  return { hops: [], target, key: JSON.stringify(['vm', vm.id, vm.host, vm.sshPort, vm.sshUser, vm.hostKeys]) };
}

/** What a user types to reach the VM with the downloaded key. */
export function sshCommandFor(vm: Pick<VmRow, 'name' | 'host' | 'sshPort' | 'sshUser'>): string | null {
  if (!vm.host || !vm.sshPort || !vm.sshUser) return null;
  const keyFile = `${vm.name.replace(/[^A-Za-z0-9._-]/g, '_')}.key`;
  return `ssh -i ${keyFile} -p ${vm.sshPort} ${vm.sshUser}@${vm.host}`;
}
