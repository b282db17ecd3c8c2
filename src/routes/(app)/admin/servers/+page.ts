import { api } from '$lib/api/client';
import type { ServerListing } from '$lib/shared/servers';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, parent, depends }) => {
  depends('app:admin-servers');
  const { user } = await parent();
  // Non-admins get a message instead of a 403 from the API.
  if (user.role !== 'admin') return { listing: null };
  return { listing: await api.get<ServerListing>('/admin/servers', fetch) };
};
