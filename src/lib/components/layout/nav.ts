import type { Component } from 'svelte';
import CoinsIcon from '@lucide/svelte/icons/coins';
import FolderGitIcon from '@lucide/svelte/icons/folder-git';
import LayoutDashboardIcon from '@lucide/svelte/icons/layout-dashboard';
import ListChecksIcon from '@lucide/svelte/icons/list-checks';
import NetworkIcon from '@lucide/svelte/icons/network';
import ScrollTextIcon from '@lucide/svelte/icons/scroll-text';
import ServerIcon from '@lucide/svelte/icons/server';
import ShieldIcon from '@lucide/svelte/icons/shield';
import SquareTerminalIcon from '@lucide/svelte/icons/square-terminal';
import type { Pathname } from '$app/types';
import type { User } from '$lib/shared/auth';

export interface NavItem {
  href: Pathname;
  label: string;
  icon: Component<{ class?: string }>;
  /** Shown only to admins; the server enforces the same rule on every admin route. */
  adminOnly?: boolean;
}

export const NAV_ITEMS: readonly NavItem[] = [
  { href: '/', label: 'Dashboard', icon: LayoutDashboardIcon },
  { href: '/projects', label: 'Projects', icon: FolderGitIcon },
  { href: '/jobs', label: 'Jobs', icon: ListChecksIcon },
  { href: '/terminals', label: 'Terminals', icon: SquareTerminalIcon },
  { href: '/environments', label: 'Environments', icon: NetworkIcon },
  { href: '/vms', label: 'VMs', icon: ServerIcon },
  { href: '/credits', label: 'Credits', icon: CoinsIcon },
  { href: '/events', label: 'Events', icon: ScrollTextIcon },
  { href: '/admin', label: 'Admin', icon: ShieldIcon, adminOnly: true },
];

/** Pages reachable outside the sidebar, so the header can still name them. */
const OTHER_TITLES: Record<string, string> = {
  '/settings/tokens': 'API tokens',
  '/settings/password': 'Password',
  '/hosts': 'Host',
  '/admin/known-hosts': 'Known hosts',
  '/admin/vms': 'All VMs',
  '/admin/operations': 'VM operations',
  '/admin/credits': 'Credits of all users',
  '/admin/servers': 'Servers',
};

export function navItemsFor(user: User): NavItem[] {
  return NAV_ITEMS.filter((item) => !item.adminOnly || user.role === 'admin');
}

/** `/jobs/123` keeps "Jobs" highlighted; `/` only matches itself or every page would. */
export function isActive(href: string, pathname: string): boolean {
  if (href === '/') return pathname === '/';
  return pathname === href || pathname.startsWith(`${href}/`);
}

export function sectionTitle(pathname: string): string {
  for (const [prefix, title] of Object.entries(OTHER_TITLES)) if (isActive(prefix, pathname)) return title;
  return NAV_ITEMS.find((item) => isActive(item.href, pathname))?.label ?? 'vm-orchestrator';
}
