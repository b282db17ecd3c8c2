import { error } from '@sveltejs/kit';
import { ApiError, api } from '$lib/api/client';
import type { Job } from '$lib/shared/jobs';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, fetch }) => {
  try {
    const job = await api.get<Job>(`/jobs/${params.id}`, fetch);
    if (job.type !== 'terminal') error(404, 'This job is not a terminal');
    return { job };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) error(404, 'Terminal not found');
    throw err;
  }
};
