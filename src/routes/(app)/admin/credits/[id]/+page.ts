import { error } from '@sveltejs/kit';
import { ApiError, api } from '$lib/api/client';
import { creditsApi } from '$lib/api/credits';
import type { User } from '$lib/shared/auth';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, fetch, parent, depends }) => {
  depends('app:admin-credit-account');
  const { user } = await parent();
  // Non-admins get a message instead of a 403 from the API.
  if (user.role !== 'admin') return { target: null, account: null };
  try {
    // The account does not carry the username; the users list does (there is no one-user read).
    const [{ users }, { ledger, ...account }] = await Promise.all([
      api.get<{ users: User[] }>('/admin/users', fetch),
      creditsApi.userCredits(params.id, null, 50, fetch),
    ]);
    const target = users.find((u) => u.id === params.id);
    if (!target) error(404, 'User not found');
    return { target, account, ledger };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) error(404, 'User not found');
    throw err;
  }
};
