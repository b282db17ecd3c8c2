import { api } from '$lib/api/client';
import type { ApiToken } from '$lib/shared/auth';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, depends }) => {
  depends('app:tokens');
  const { tokens } = await api.get<{ tokens: ApiToken[] }>('/tokens', fetch);
  return { tokens };
};
