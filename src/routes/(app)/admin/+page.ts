import { api } from '$lib/api/client';
import type { Account } from '$lib/shared/auth';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, parent, depends }) => {
  depends('app:admin-users');
  const { user } = await parent();
  // Non-admins get a message instead of a 403 from the API.
  if (user.role !== 'admin') return { users: null };
  const { users } = await api.get<{ users: Account[] }>('/admin/users', fetch);
  return { users };
};
