import { api } from '$lib/api/client';
import { eventsApi } from '$lib/api/events';
import type { User } from '$lib/shared/auth';
import { apiFilters, EVENTS_PAGE_SIZE, readFilters } from './event-filters';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, url, parent, depends }) => {
  depends('app:events');
  const { user } = await parent();
  const filters = readFilters(url.searchParams, user.role === 'admin');
  const [page, users] = await Promise.all([
    eventsApi.list(filters.everyone, apiFilters(filters), null, EVENTS_PAGE_SIZE, fetch),
    // Only the everyone view filters by user; the list names the choices.
    filters.everyone ? api.get<{ users: User[] }>('/admin/users', fetch).then((r) => r.users) : Promise.resolve([] as User[]),
  ]);
  return { filters, page, users };
};
