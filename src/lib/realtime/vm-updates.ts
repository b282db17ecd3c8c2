import type { Vm } from '$lib/shared/vms';
import { jobsSocket } from './socket';

/**
 * Follows `vm:updated` on the shared `/jobs` socket (the server sends it to a VM's owner and to
 * admins). Events carry the whole VM, so a list merges them in place. A socket that was away
 * may have missed some: `onResync` runs on every (re)connect so the caller reads the truth again
 * over HTTP. Returns the unsubscribe function, for `onMount` / `$effect` cleanup.
 */
export function followVmUpdates(onUpdate: (vm: Vm) => void, onResync?: () => void): () => void {
  const socket = jobsSocket();
  const updated = ({ vm }: { vm: Vm }) => onUpdate(vm);
  const resync = () => onResync?.();
  socket.on('vm:updated', updated);
  socket.on('connect', resync);
  return () => {
    socket.off('vm:updated', updated);
    socket.off('connect', resync);
  };
}

/**
 * Runs `fn` once after a burst of calls has settled: several VMs changing at once (or one VM
 * moving through three states in a second) cost one reload, not one per event.
 */
export function coalesce(fn: () => void, ms = 250): { (): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}
