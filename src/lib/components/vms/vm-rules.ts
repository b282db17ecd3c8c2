import type { VmUserAction } from '$lib/api/vms';
import { checkRequest } from '$lib/shared/vm-state';
import type { VmStatus } from '$lib/shared/vms';

export const USER_ACTIONS: readonly VmUserAction[] = ['start', 'stop', 'restart', 'destroy'];

/**
 * Which actions to offer for a VM: the server's own rule (`checkRequest`), judged against the
 * state the VM will rest in once the action in flight and everything queued have run, so a
 * stop asked while it provisions is offered. The server stays the judge (a race still answers
 * 409 `invalid_transition`); this only keeps buttons that would be refused away.
 */
export function allowedActions(status: Pick<VmStatus, 'state' | 'inFlight' | 'queued'>): VmUserAction[] {
  return USER_ACTIONS.filter((a) => checkRequest(a, status.state, status.inFlight, status.queued).ok);
}
