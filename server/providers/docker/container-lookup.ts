import type Docker from 'dockerode';
import { AppError } from '../../platform/errors.ts';
import type { ProviderLog, ProviderRef } from '../provider.ts';
import { VM_LABEL, vmLabelFilter } from './container-naming.ts';
import { engineFailure, isNotFound } from './docker-errors.ts';

/** A VM's container and what the engine says about it. */
export interface Found {
  container: Docker.Container;
  info: Docker.ContainerInspectInfo;
}

/**
 * Finding a VM's container: by the provider id when it still carries the VM's label, else by
 * the label (the idempotency key). A 404 from the engine is an answer here ("not there"),
 * any other failure an engine error naming what was being done.
 */
export class ContainerLookup {
  constructor(private readonly docker: Docker) {}

  /**
   * The container holding `name` after a 409. The engine reserves the name before the racing
   * create has registered its container (measured: neither the label list nor an inspect by
   * name sees it for a moment), so this looks again for a few seconds before giving up.
   */
  async claimedName(name: string, vmId: string): Promise<Docker.Container> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const info = await this.inspectById(name);
      if (info) {
        if (info.Config.Labels?.[VM_LABEL] === vmId) return this.docker.getContainer(info.Id);
        throw new AppError(409, 'vm_name_conflict', `A container named ${name} exists but is not labelled for this VM; remove or rename it with the Docker Engine`, { name });
      }
      if (Date.now() > deadline) throw new AppError(409, 'vm_name_conflict', `The name ${name} is taken in the Docker Engine, but no container by that name appeared within 5 s`, { name });
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The VM's containers, oldest first. */
  async listByLabel(vmId: string): Promise<Docker.ContainerInfo[]> {
    try {
      const listed = await this.docker.listContainers({ all: true, filters: vmLabelFilter(vmId) });
      return listed.sort((a, b) => a.Created - b.Created || a.Id.localeCompare(b.Id));
    } catch (err) {
      throw engineFailure(this.docker, err, 'list containers');
    }
  }

  /**
   * The VM's container by label. More than one can only come from a race the name did not
   * catch (say, the VM renamed between two deliveries): the oldest is kept, the others removed.
   */
  async findByLabel(vmId: string, log: ProviderLog): Promise<Docker.Container | null> {
    const [keep, ...extra] = await this.listByLabel(vmId);
    for (const c of extra) {
      log(`Removing duplicate container ${c.Id.slice(0, 12)} made for this VM by a racing run`);
      await this.docker.getContainer(c.Id).remove({ force: true, v: true }).catch((err) => {
        if (!isNotFound(err)) throw engineFailure(this.docker, err, `remove container ${c.Id.slice(0, 12)}`);
      });
    }
    return keep ? this.docker.getContainer(keep.Id) : null;
  }

  async inspectById(id: string): Promise<Docker.ContainerInspectInfo | null> {
    try {
      return await this.docker.getContainer(id).inspect();
    } catch (err) {
      if (isNotFound(err)) return null;
      throw engineFailure(this.docker, err, `inspect container ${id.slice(0, 12)}`);
    }
  }

  /** By provider id when it still exists and carries the VM's label, else by label. */
  async locate(ref: ProviderRef): Promise<Found | null> {
    if (ref.providerId) {
      const info = await this.inspectById(ref.providerId);
      if (info && info.Config.Labels?.[VM_LABEL] === ref.vmId) return { container: this.docker.getContainer(info.Id), info };
    }
    const [oldest] = await this.listByLabel(ref.vmId);
    if (!oldest) return null;
    const info = await this.inspectById(oldest.Id);
    return info ? { container: this.docker.getContainer(info.Id), info } : null;
  }

  async require(ref: ProviderRef): Promise<Found> {
    const found = await this.locate(ref);
    if (!found) throw vmMissing(ref);
    return found;
  }

  async inspectOrMissing(container: Docker.Container, vmId: string): Promise<Docker.ContainerInspectInfo> {
    const info = await this.inspectById(container.id);
    if (!info) throw vmMissing({ vmId, providerId: container.id });
    return info;
  }

  async displayName(container: Docker.Container): Promise<string> {
    const info = await this.inspectById(container.id);
    return info ? info.Name.replace(/^\//, '') : container.id.slice(0, 12);
  }

  async waitUntilGone(id: string, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (await this.inspectById(id)) {
      signal.throwIfAborted();
      if (Date.now() > deadline) throw new AppError(504, 'docker_engine_error', `Container ${id.slice(0, 12)} is still being removed after 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export function missingDetail(ref: ProviderRef): string {
  return `no container${ref.providerId ? ` ${ref.providerId.slice(0, 12)}` : ''} and none labelled ${VM_LABEL}=${ref.vmId}`;
}

export function vmMissing(ref: ProviderRef): AppError {
  return new AppError(
    404,
    'vm_missing',
    `The container of this VM was removed outside the console (${missingDetail(ref)}); destroy the VM and create it again`,
    { vmId: ref.vmId, providerId: ref.providerId },
  );
}
