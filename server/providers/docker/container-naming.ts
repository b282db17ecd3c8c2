/**
 * How the console marks and names its containers. The label is the idempotency key (every
 * action finds a VM's container by `vm-orchestrator.vm=<vmId>`); the name is deterministic
 * too, so two racing creates of one VM collide on it (409) instead of making two containers.
 */

/** The console's VM id; the key every lookup uses. */
export const VM_LABEL = 'vm-orchestrator.vm';
/** Marks every container this console made, for the reconciler and for cleanup. */
export const MANAGED_LABEL = 'vm-orchestrator.managed';
/** The VM's name as the user typed it (the container name holds a sanitized copy). */
export const NAME_LABEL = 'vm-orchestrator.name';
/**
 * Which console made it. Consoles (and test suites) can share one dockerd; the reconciler
 * destroys what listManaged reports and its database does not know, so each must list only its own.
 */
export const CONSOLE_LABEL = 'vm-orchestrator.console';

const NAME_MAX = 30;

/**
 * A VM name as a DNS label: lowercase letters, digits and inner dashes, at most 30 characters.
 * It is both part of the container name and the container's hostname (RFC 1123).
 */
export function sanitizeVmName(name: string): string {
  const cleaned = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents go, their letters stay: é → e
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, NAME_MAX)
    .replace(/^-+|-+$/g, '');
  return cleaned || 'vm';
}

/** `vmo-<first 12 hex of the VM id>-<sanitized name>`: readable in `docker ps`, unique per VM. */
export function containerName(vmId: string, name: string): string {
  const id = vmId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 12);
  return `vmo-${id}-${sanitizeVmName(name)}`;
}

export function vmLabels(vmId: string, name: string, consoleId?: string): Record<string, string> {
  return { [VM_LABEL]: vmId, [MANAGED_LABEL]: '1', [NAME_LABEL]: name, ...(consoleId ? { [CONSOLE_LABEL]: consoleId } : {}) };
}

/** The `filters` of `GET /containers/json` for one VM's containers (VM ids are UUIDs: unique across consoles). */
export function vmLabelFilter(vmId: string): { label: string[] } {
  return { label: [`${VM_LABEL}=${vmId}`] };
}

/** Every VM container, or only one console's when `consoleId` is given (labels in one filter are ANDed). */
export function managedLabelFilter(consoleId?: string): { label: string[] } {
  return { label: [VM_LABEL, ...(consoleId ? [`${CONSOLE_LABEL}=${consoleId}`] : [])] };
}
