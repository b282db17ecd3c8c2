import { error } from '@sveltejs/kit';
import { ApiError } from '$lib/api/client';
import { hostsApi } from '$lib/api/hosts';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, fetch, depends }) => {
  // Invalidated after a check, an accepted key or an unlock: each can change what is known about the host.
  depends('app:host');
  try {
    return { host: await hostsApi.host(params.id, fetch) };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) error(404, 'Host not found');
    throw err;
  }
};
