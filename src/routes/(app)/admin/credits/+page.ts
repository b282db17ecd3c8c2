import { creditsApi } from '$lib/api/credits';
import { api, errorMessage } from '$lib/api/client';
import type { User } from '$lib/shared/auth';
import type { CreditsView } from '$lib/shared/credits';
import type { PageLoad } from './$types';

/** One user with their account, or why it could not be read (one failure does not hide the others). */
export interface UserAccountRow {
  user: User;
  account: CreditsView | null;
  error: string | null;
}

export const load: PageLoad = async ({ fetch, parent, depends }) => {
  depends('app:admin-credits');
  const { user } = await parent();
  // Non-admins get a message instead of a 403 from the API.
  if (user.role !== 'admin') return { rows: null };
  const { users } = await api.get<{ users: User[] }>('/admin/users', fetch);
  // There is no list of accounts: one read per user, with a one-entry ledger page (the least it sends).
  const rows: UserAccountRow[] = await Promise.all(
    users.map((u) =>
      creditsApi.userCredits(u.id, null, 1, fetch).then(
        ({ ledger: _ledger, ...account }) => ({ user: u, account, error: null }),
        (err) => ({ user: u, account: null, error: errorMessage(err) }),
      ),
    ),
  );
  return { rows };
};
