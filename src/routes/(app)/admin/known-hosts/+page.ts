import { hostsApi } from '$lib/api/hosts';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, parent, depends }) => {
  depends('app:known-hosts');
  const { user } = await parent();
  // Non-admins get a message instead of a 403 from the API.
  if (user.role !== 'admin') return { keys: null };
  return { keys: await hostsApi.knownHosts(fetch) };
};
