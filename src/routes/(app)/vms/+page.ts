import { errorMessage } from '$lib/api/client';
import { vmsApi } from '$lib/api/vms';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, url, depends }) => {
  // Invalidated after a socket reconnect: updates may have been missed while it was away.
  depends('app:vms');
  const all = url.searchParams.get('all') === '1';
  // The list is the page; the create options only feed the dialog, so their failure is shown, not thrown.
  const [items, options] = await Promise.all([
    vmsApi.list(all, fetch),
    vmsApi.createOptions(fetch).then(
      (o) => ({ createOptions: o, createOptionsError: null }),
      (err) => ({ createOptions: null, createOptionsError: errorMessage(err) }),
    ),
  ]);
  return { all, items, ...options };
};
