import { vmsApi } from '$lib/api/vms';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, parent, depends }) => {
  depends('app:admin-queue');
  const { user } = await parent();
  // Non-admins get a message instead of a 403 from the API.
  if (user.role !== 'admin') return { queue: null };
  return { queue: await vmsApi.queue(fetch) };
};
