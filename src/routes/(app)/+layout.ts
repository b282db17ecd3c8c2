import { redirect } from '@sveltejs/kit';
import { ApiError, api } from '$lib/api/client';
import type { User } from '$lib/shared/auth';
import type { LayoutLoad } from './$types';

// Every page in this group needs a signed-in user; without one, go to the login page and come back after.
export const load: LayoutLoad = async ({ fetch, url }) => {
  try {
    const { user } = await api.get<{ user: User }>('/auth/me', fetch);
    return { user };
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      redirect(307, '/login?next=' + encodeURIComponent(url.pathname + url.search));
    }
    throw err;
  }
};
