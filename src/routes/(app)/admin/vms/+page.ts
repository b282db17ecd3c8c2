import { vmsApi } from '$lib/api/vms';
import type { VmListItem } from '$lib/shared/vms';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, url, parent, depends }) => {
  depends('app:admin-vms');
  const { user } = await parent();
  const all = url.searchParams.get('all') === '1';
  // Non-admins get a message instead of a 403 from the API.
  if (user.role !== 'admin') return { all, stats: null, items: [] as VmListItem[] };
  const [stats, items] = await Promise.all([vmsApi.stats(fetch), vmsApi.list(all, fetch)]);
  return { all, stats, items };
};
