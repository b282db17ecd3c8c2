import type Docker from 'dockerode';
import type { ProviderVm } from '../provider.ts';

/**
 * A container as the console sees a VM: the engine's state mapped to ProviderVmState and the
 * loopback port sshd is published on. Pure, so every row of the mapping is unit-tested.
 */

export const LOOPBACK = '127.0.0.1';
export const SSH_PORT_KEY = '22/tcp';

/** The part of `GET /containers/{id}/json` read here. */
export type ContainerFacts = Pick<Docker.ContainerInspectInfo, 'Id' | 'State' | 'NetworkSettings'> & {
  HostConfig?: Pick<Docker.ContainerInspectInfo['HostConfig'], 'Memory'>;
};

/** The host port for 22/tcp on loopback; null while stopped (the engine then lists no ports). */
export function publishedSshPort(info: Pick<ContainerFacts, 'NetworkSettings'>): number | null {
  const bindings = info.NetworkSettings?.Ports?.[SSH_PORT_KEY] ?? [];
  const binding = bindings.find((b) => b.HostIp === LOOPBACK) ?? bindings[0];
  const port = Number(binding?.HostPort);
  return Number.isInteger(port) && port > 0 ? port : null;
}

export function toProviderVm(vmId: string, info: ContainerFacts): ProviderVm {
  const s = info.State;
  const base = { vmId, providerId: info.Id, host: null, sshPort: null } as const;
  if (s.Dead) return { ...base, state: 'error', detail: `container is dead${s.Error ? `: ${s.Error}` : ''}` };
  if (s.OOMKilled && !s.Running) {
    const limit = info.HostConfig?.Memory ? ` (limit ${Math.round(info.HostConfig.Memory / 2 ** 20)} MB)` : '';
    return { ...base, state: 'error', detail: `killed for running out of memory${limit}; start it again or give it more memory` };
  }
  if (s.Paused) return { ...base, state: 'error', detail: 'container is paused (outside the console); unpause it with the Docker Engine' };
  if (s.Restarting) return { ...base, state: 'error', detail: 'container is restarting' };
  if (s.Running) {
    const port = publishedSshPort(info);
    if (!port) return { ...base, state: 'error', detail: `running, but port 22 is not published on ${LOOPBACK}` };
    return { ...base, state: 'running', host: LOOPBACK, sshPort: port };
  }
  if (s.Status === 'removing') return { ...base, state: 'missing', detail: 'container is being removed' };
  // exited or created: a machine that is off. A non-zero exit that was not our stop is said.
  const exit = s.Status === 'exited' && s.ExitCode !== 0 ? `exited with code ${s.ExitCode}${s.Error ? `: ${s.Error}` : ''}` : null;
  return { ...base, state: 'stopped', ...(exit ? { detail: exit } : {}) };
}
