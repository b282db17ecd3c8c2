import { errorMessage } from '$lib/api/client';
import { hostsApi } from '$lib/api/hosts';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, depends }) => {
  depends('app:environments');
  // A failed read is shown on the page with a retry, not as the error page.
  try {
    return { listing: await hostsApi.environments(fetch), loadError: null };
  } catch (err) {
    return { listing: null, loadError: errorMessage(err) };
  }
};
