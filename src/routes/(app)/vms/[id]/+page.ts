import { error } from '@sveltejs/kit';
import { ApiError } from '$lib/api/client';
import { vmsApi } from '$lib/api/vms';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, fetch, depends }) => {
  // Invalidated after a socket reconnect: updates may have been missed while it was away.
  depends('app:vm');
  try {
    const [vm, operations] = await Promise.all([vmsApi.get(params.id, fetch), vmsApi.operations(params.id, fetch)]);
    return { vm, operations };
  } catch (err) {
    // Someone else's VM answers 404 too, so ids do not leak.
    if (err instanceof ApiError && err.status === 404) error(404, 'VM not found');
    throw err;
  }
};
