import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { dockerForTests, removeContainersLabelled } from '../helpers/docker.ts';
import { expectAccessible, expectTheme, saveTheme, THEMES } from './a11y.ts';
import { watchPolicies } from './policies.ts';
import { readRemoteSetup } from './remote.ts';
import { signIn } from './session.ts';

/**
 * The accessibility gate: every page of the console, in the light and the dark theme, has no
 * WCAG 2 A/AA violation axe-core can find. Pages are scanned with real data in them (a failed
 * job, a live terminal and a recording, the test sshd's host, a VM when Docker runs), once
 * their content has loaded. A new page is one more row in PAGES.
 */

interface PageCase {
  name: string;
  /** Where the page is, or how to make the data it shows and then where it is. */
  path: string | ((page: Page) => Promise<string>);
  /** Resolves once the page's own content (not only the shell) is on screen. */
  ready: (page: Page) => Promise<void>;
  /** Then brings up what the row is about on the loaded page (a dialog), and resolves once it is filled in. */
  open?: (page: Page) => Promise<void>;
  /** The login page: scanned signed out. */
  signedOut?: boolean;
  /** Why this page cannot be scanned here (a missing sshd or Docker engine), or nothing. */
  skip?: () => Promise<string | undefined>;
}

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name });

async function post(page: Page, url: string, data: unknown) {
  const res = await page.request.post(url, { data });
  expect(res.ok(), `POST ${url}: ${res.status()} ${await res.text()}`).toBe(true);
  return res.json();
}

async function get(page: Page, url: string) {
  const res = await page.request.get(url);
  expect(res.ok(), `GET ${url}: ${res.status()}`).toBe(true);
  return res.json();
}

/** A make job that writes to stderr and fails: the job page's richest state (stderr lines, exit code, first error). */
async function failedJob(page: Page): Promise<string> {
  const job = await post(page, '/api/jobs', { type: 'make', project: 'fixture', target: 'fail' });
  await expect.poll(async () => (await get(page, `/api/jobs/${job.id}`)).status, { timeout: 20_000 }).toBe('failed');
  return job.id;
}

/** Terminals this spec opened, killed after the run. */
const terminals: string[] = [];

async function liveTerminal(page: Page): Promise<string> {
  const job = await post(page, '/api/jobs', { type: 'terminal', cwd: 'fixture' });
  terminals.push(job.id);
  return job.id;
}

async function endedTerminal(page: Page): Promise<string> {
  const id = await liveTerminal(page);
  await post(page, `/api/jobs/${id}/cancel`, {});
  await expect.poll(async () => (await get(page, `/api/jobs/${id}`)).status, { timeout: 20_000 }).not.toMatch(/^(queued|running)$/);
  return id;
}

/** The test sshd's inventory host (tests/e2e/server.ts). */
async function remoteHostId(page: Page): Promise<string> {
  const remote = readRemoteSetup();
  const environments: { name: string; vms: { id: string; name: string }[] }[] = await get(page, '/api/environments');
  const host = environments.find((e) => e.name === remote.environment)?.vms.find((h) => h.name === remote.host);
  expect(host, `inventory host ${remote.environment}/${remote.host}`).toBeTruthy();
  return host!.id;
}

const noSshd = async () => (readRemoteSetup().available ? undefined : 'sshd is not installed (apt-get install openssh-server)');

// Like vms.spec.ts: under CI a missing Docker engine fails the run; elsewhere the VM rows skip.
// Asked once, and only when a row needs it.
let dockerCheck: ReturnType<typeof dockerForTests> | undefined;
const engine = () => (dockerCheck ??= dockerForTests());
const noDocker = async () => ((await engine()) ? undefined : 'no Docker engine (apt-get install docker.io, then dockerd &)');
const vms: string[] = [];

/**
 * A VM of the admin's, provisioned by Docker, made once and shared by the rows that show it
 * (the free tier allows one). Pages showing it wait for it to settle: running, or error when
 * its create failed.
 */
let made: Promise<string> | undefined;
function vm(page: Page): Promise<string> {
  made ??= post(page, '/api/vms', { name: `a11y-${Date.now()}`, vcpus: 1, memoryMb: 1024, diskGb: 10 }).then(({ vm }) => {
    vms.push(vm.id);
    return vm.id as string;
  });
  return made;
}
const SETTLED = /^(running|error)$/;

/** Projects this spec added, removed after the run, and the directory they were made in. */
const projects: string[] = [];
let projectsDir: string | undefined;

/**
 * Beside the fixture project, two that cannot be used the way a real registry often has
 * them: a directory without a Makefile, and one that was deleted after it was added.
 */
async function unusableProjects(page: Page) {
  projectsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-a11y-'));
  const gone = path.join(projectsDir, 'gone');
  fs.mkdirSync(gone);
  for (const [alias, dir] of [['a11y-no-makefile', projectsDir], ['a11y-missing', gone]]) {
    await post(page, '/api/projects', { alias, dir });
    projects.push(alias);
  }
  fs.rmSync(gone, { recursive: true });
}

async function myId(page: Page): Promise<string> {
  return (await get(page, '/api/auth/me')).user.id;
}

const PAGES: PageCase[] = [
  {
    name: 'login',
    path: '/login',
    signedOut: true,
    ready: (page) => expect(page.getByRole('button', { name: /sign in/i })).toBeVisible(),
  },
  {
    name: 'dashboard',
    path: async (page) => {
      await failedJob(page);
      return '/';
    },
    ready: async (page) => {
      await expect(page.getByTestId('recent-failures').getByRole('link').first()).toBeVisible();
      await expect(page.getByTestId('running-jobs').getByRole('list').or(page.getByText('Nothing is running.', { exact: false }))).toBeVisible();
    },
  },
  {
    name: 'projects',
    path: async (page) => {
      await unusableProjects(page);
      return '/projects';
    },
    ready: async (page) => {
      await expect(page.locator('[data-project="fixture"] [data-target="hello"]')).toBeVisible();
      await expect(page.locator('[data-project="a11y-missing"]').getByRole('alert')).toBeVisible();
      await expect(page.locator('[data-project="a11y-no-makefile"]').getByRole('status')).toHaveCount(0);
    },
  },
  {
    name: 'projects: add project dialog',
    path: '/projects',
    ready: (page) => expect(page.getByRole('button', { name: 'Add project' })).toBeVisible(),
    open: async (page) => {
      await page.getByRole('button', { name: 'Add project' }).click();
      await expect(page.getByRole('dialog', { name: 'Add project' })).toBeVisible();
    },
  },
  {
    name: 'projects: run with variables dialog',
    path: '/projects',
    ready: (page) => expect(page.locator('[data-project="fixture"] [data-target="echo-var"]')).toBeVisible(),
    open: async (page) => {
      await page.getByRole('button', { name: 'Run echo-var with variables' }).click();
      await expect(page.getByRole('dialog', { name: /with variables/ })).toBeVisible();
    },
  },
  {
    name: 'jobs list',
    path: async (page) => {
      await failedJob(page);
      return '/jobs';
    },
    ready: (page) => expect(page.getByTestId('job-row').first()).toBeVisible(),
  },
  {
    name: 'job',
    path: async (page) => `/jobs/${await failedJob(page)}`,
    ready: async (page) => {
      await expect(page.getByTestId('job-status')).toHaveAttribute('data-status', 'failed');
      await expect(page.getByTestId('log-line').filter({ hasText: 'about to fail' })).toBeVisible();
    },
  },
  {
    name: 'terminals list',
    path: async (page) => {
      await liveTerminal(page);
      await endedTerminal(page);
      return '/terminals';
    },
    ready: (page) => expect(page.getByRole('link', { name: 'Attach' }).first()).toBeVisible(),
  },
  {
    name: 'terminal',
    path: async (page) => `/terminals/${await liveTerminal(page)}`,
    ready: async (page) => {
      await expect(page.getByTestId('terminal-view')).toHaveAttribute('data-phase', 'attached', { timeout: 20_000 });
      await expect(page.getByText('Keyboard', { exact: true })).toBeVisible();
    },
  },
  {
    name: 'terminal recording',
    path: async (page) => `/terminals/${await endedTerminal(page)}`,
    ready: (page) => expect(page.getByTestId('terminal-replay')).toBeVisible(),
  },
  {
    name: 'environments',
    path: '/environments',
    ready: (page) => expect(page.getByTestId('environment-card').or(page.getByTestId('environments-empty')).first()).toBeVisible(),
  },
  {
    name: 'host',
    skip: noSshd,
    path: async (page) => `/hosts/${await remoteHostId(page)}`,
    ready: (page) => expect(page.getByTestId('host-key-row').first()).toBeVisible(),
  },
  {
    name: 'events',
    path: '/events',
    ready: (page) => expect(page.getByTestId('event-row').first()).toBeVisible(),
  },
  {
    name: 'credits',
    path: '/credits',
    ready: (page) => expect(page.getByTestId('ledger-row').first()).toBeVisible(),
  },
  {
    name: 'settings/tokens',
    path: async (page) => {
      await post(page, '/api/tokens', { name: 'a11y token' });
      return '/settings/tokens';
    },
    ready: (page) => expect(page.getByRole('cell', { name: 'a11y token' }).first()).toBeVisible(),
  },
  {
    name: 'settings/password',
    path: '/settings/password',
    ready: (page) => expect(page.getByLabel('Current password')).toBeEditable(),
  },
  {
    name: 'settings/tokens: new token dialog',
    path: '/settings/tokens',
    ready: (page) => expect(page.getByLabel('Name')).toBeEditable(),
    open: async (page) => {
      await page.getByLabel('Name').fill('a11y dialog token');
      await page.getByRole('button', { name: 'Create token' }).click();
      await expect(page.getByTestId('new-token')).not.toHaveValue('');
    },
  },
  {
    name: 'vms list',
    // With a VM in it when Docker runs; without, the list of environment hosts and the "provider down" alert.
    path: async (page) => {
      if (!(await noDocker())) await vm(page);
      return '/vms';
    },
    ready: async (page) => {
      await expect(page.getByTestId('my-vms').or(page.getByTestId('vms-empty')).first()).toBeVisible();
      if (made) await expect(page.locator(`[data-testid="vm-row"][data-vm-id="${await made}"]`)).toHaveAttribute('data-state', SETTLED, { timeout: 60_000 });
    },
  },
  {
    name: 'vms: create VM dialog',
    skip: noDocker,
    path: '/vms',
    ready: (page) => expect(page.getByTestId('create-vm')).toBeEnabled(),
    open: async (page) => {
      await page.getByTestId('create-vm').click();
      await page.getByTestId('create-vm-dialog').getByLabel('Name').fill('a11y-dialog');
      await expect(page.getByTestId('price-quote')).toHaveAttribute('data-state', /^(allowed|refused)$/);
    },
  },
  {
    name: 'vm',
    skip: noDocker,
    path: async (page) => `/vms/${await vm(page)}`,
    ready: async (page) => {
      const status = page.getByTestId('vm-page').getByTestId('vm-status').first();
      await expect(status).toHaveAttribute('data-state', SETTLED, { timeout: 60_000 });
      await expect(page.getByTestId('vm-history')).toBeVisible();
    },
  },
  {
    name: 'vm: destroy dialog',
    skip: noDocker,
    path: async (page) => `/vms/${await vm(page)}`,
    ready: (page) => expect(page.getByTestId('vm-page').getByTestId('vm-status').first()).toHaveAttribute('data-state', SETTLED, { timeout: 60_000 }),
    open: async (page) => {
      await page.getByTestId('vm-page').getByTestId('vm-actions').first().getByRole('button', { name: /^Destroy/ }).click();
      await expect(page.getByTestId('confirm-destroy')).toBeVisible();
    },
  },
  {
    name: 'admin',
    path: '/admin',
    ready: (page) => expect(page.getByRole('cell', { name: 'admin', exact: true }).first()).toBeVisible(),
  },
  {
    name: 'admin: a disabled and a locked-out user',
    path: async (page) => {
      for (const username of ['a11y-disabled', 'a11y-locked']) {
        const res = await page.request.post('/api/admin/users', { data: { username, password: 'a11y-password-1', role: 'user' } });
        expect([201, 409]).toContain(res.status());
      }
      const { users } = await get(page, '/api/admin/users');
      const disabled = users.find((u: { username: string }) => u.username === 'a11y-disabled');
      await page.request.patch(`/api/admin/users/${disabled.id}`, { data: { disabled: true } });
      // Failed sign-ins from an address of their own, so the console's own sign-ins are not slowed.
      for (let i = 0; i < 5; i++) {
        await page.request.post('/api/auth/login', {
          data: { username: 'a11y-locked', password: 'wrong-password' }, headers: { 'x-forwarded-for': '198.51.100.77' },
        });
      }
      return '/admin';
    },
    ready: async (page) => {
      await expect(page.getByRole('row').filter({ hasText: 'a11y-disabled' }).getByText('Disabled', { exact: true })).toBeVisible();
      await expect(page.getByRole('row').filter({ hasText: 'a11y-locked' }).getByText(/Locked until/)).toBeVisible();
    },
  },
  {
    name: 'admin: user actions menu and new password dialog',
    path: '/admin',
    ready: (page) => expect(page.getByRole('button', { name: 'Actions for admin', exact: true })).toBeVisible(),
    open: async (page) => {
      await page.getByRole('button', { name: 'Actions for admin', exact: true }).click();
      await page.getByRole('menuitem', { name: /new password/i }).click();
      await expect(page.getByRole('dialog', { name: /new password for admin/i })).toBeVisible();
    },
  },
  {
    name: 'admin/servers',
    path: '/admin/servers',
    ready: (page) => expect(page.getByTestId('server-row').first()).toBeVisible(),
  },
  {
    name: 'admin/credits',
    path: '/admin/credits',
    ready: (page) => expect(page.getByTestId('credit-account-row').first()).toBeVisible(),
  },
  {
    name: 'admin/credits/[id]',
    path: async (page) => `/admin/credits/${await myId(page)}`,
    ready: (page) => expect(page.getByTestId('ledger-row').first()).toBeVisible(),
  },
  {
    name: 'admin/known-hosts',
    path: '/admin/known-hosts',
    ready: async (page) => {
      await expect(heading(page, 'Known hosts')).toBeVisible();
      await expect(page.getByTestId('trusted-keys')).toBeVisible();
    },
  },
  {
    name: 'admin/operations',
    path: '/admin/operations',
    ready: (page) => expect(page.getByTestId('queue-queued')).toBeVisible(),
  },
  {
    name: 'admin/vms',
    path: '/admin/vms',
    ready: (page) => expect(page.getByTestId('vm-capacity')).toBeVisible(),
  },
];

test.afterAll(async ({ browser }) => {
  if (projectsDir) fs.rmSync(projectsDir, { recursive: true, force: true });
  if (!terminals.length && !vms.length && !projects.length) return;
  const page = await browser.newPage();
  await signIn(page);
  for (const alias of projects) await page.request.delete(`/api/projects/${alias}`);
  for (const id of terminals) await page.request.post(`/api/jobs/${id}/cancel`, { data: {} });
  for (const id of vms) {
    await page.request.post(`/api/vms/${id}/actions`, { data: { action: 'destroy', force: true } });
    const docker = await engine();
    if (docker) await removeContainersLabelled(docker, `vm-orchestrator.vm=${id}`);
  }
  await page.close();
});

for (const c of PAGES) {
  test(`${c.name}: no WCAG 2 A/AA violations in the light and the dark theme`, async ({ page }) => {
    test.setTimeout(90_000);
    const reason = await c.skip?.();
    test.skip(!!reason, reason);
    // Each page is also used under its Content-Security-Policy: nothing may be refused.
    const refused = await watchPolicies(page);

    // On the console's origin either way, so the theme can be saved before the page loads.
    if (c.signedOut) await page.goto('/login');
    else await signIn(page);
    const url = typeof c.path === 'string' ? c.path : await c.path(page);

    for (const theme of THEMES) {
      await test.step(theme, async () => {
        await saveTheme(page, theme);
        await page.goto(url);
        await expectTheme(page, theme);
        await c.ready(page);
        // Nothing still loading: a skeleton stands in for content that has not arrived yet.
        await expect(page.locator('[data-slot="skeleton"]')).toHaveCount(0);
        await c.open?.(page);
        await expectAccessible(page, `${c.name} (${theme})`, { soft: true });
        expect.soft(await refused(), `policy violations on ${c.name} (${theme})`).toEqual([]);
      });
    }
  });
}
