import type { Vm, VmListItem } from '$lib/shared/vms';

/**
 * A list with one VM replaced by its newer self (`vm:updated`, an action's answer), or added at
 * the top when the list did not have it yet (created in another tab). A destroyed VM leaves a
 * list that does not show destroyed ones. Updates older than the row are ignored: a socket
 * message and an HTTP answer can cross.
 */
export function mergeVm<T extends VmListItem>(list: T[], vm: Vm, keepDestroyed: boolean): T[] {
  const i = list.findIndex((item) => item.source === 'provisioned' && item.id === vm.id);
  const gone = vm.state === 'destroyed' && !keepDestroyed;
  if (i === -1) return gone ? list : [vm as T, ...list];
  const current = list[i] as Vm;
  if (current.updatedAt > vm.updatedAt) return list;
  if (gone) return list.filter((_, j) => j !== i);
  return list.map((item, j) => (j === i ? (vm as T) : item));
}
