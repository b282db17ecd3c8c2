import { creditsApi } from '$lib/api/credits';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, depends }) => {
  depends('app:credits');
  const [account, ledger] = await Promise.all([creditsApi.mine(fetch), creditsApi.ledger(null, 50, fetch)]);
  return { account, ledger };
};
