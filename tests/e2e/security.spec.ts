import { expect, test } from '@playwright/test';
import { watchPolicies } from './policies.ts';
import { ADMIN, signIn } from './session.ts';
import { shootBothThemes } from './shots.ts';

test('every page works under the Content-Security-Policy with no violation', async ({ page }) => {
  const violations = await watchPolicies(page);
  const first = await page.goto('/login');
  const csp = first!.headers()['content-security-policy'];
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toMatch(/script-src 'self' 'nonce-[^']+'/);
  expect(first!.headers()['x-frame-options']).toBe('DENY');
  expect(await violations()).toEqual([]);
  await signIn(page);

  // A finished job (the log viewer) and a live terminal (xterm.js, WebGL or DOM renderer).
  const job = await (await page.request.post('/api/jobs', { data: { type: 'make', project: 'fixture', target: 'hello' } })).json();
  await page.goto(`/jobs/${job.id}`);
  await expect(page.getByTestId('job-status')).toHaveAttribute('data-status', 'success', { timeout: 20_000 });
  await expect(page.getByTestId('log-line').filter({ hasText: 'hello from make' })).toBeVisible();
  expect(await violations()).toEqual([]);

  await page.goto('/terminals');
  await page.getByRole('button', { name: 'New terminal' }).click();
  await expect(page.getByTestId('terminal-view')).toHaveAttribute('data-phase', 'attached');
  await page.getByTestId('terminal-screen').click();
  await page.keyboard.type('echo csp-$((6*7))');
  await page.keyboard.press('Enter');
  await expect(page.locator('[data-testid="terminal-screen"] .xterm-rows > div').filter({ hasText: /^\s*csp-42\s*$/ })).toHaveCount(1);
  expect(await violations()).toEqual([]);

  // The theme script in app.html runs under its nonce: a saved dark choice is applied before the app starts.
  await page.evaluate(() => localStorage.setItem('mode-watcher-mode', 'dark'));
  await page.goto('/');
  await expect(page.locator('html')).toHaveClass(/dark/);
  await page.getByRole('button', { name: /theme/i }).click();
  await page.getByRole('menuitemradio', { name: 'Light' }).click();
  await expect(page.locator('html')).not.toHaveClass(/dark/);
  expect(await violations()).toEqual([]);

  for (const path of [
    '/', '/projects', '/jobs', '/terminals', '/environments', '/vms', '/credits', '/events',
    '/settings/tokens', '/settings/password', '/admin', '/admin/known-hosts', '/admin/vms', '/admin/operations', '/admin/credits', '/admin/servers',
  ]) {
    const res = await page.goto(path);
    expect(res!.headers()['content-security-policy'], path).toContain("frame-ancestors 'none'");
    await expect(page.locator('main h1').first(), path).toBeVisible();
    expect(await violations(), path).toEqual([]);
  }
});

test('another site cannot frame the console', async ({ page, baseURL }) => {
  const framed: string[] = [];
  page.on('console', (msg) => framed.push(msg.text()));
  // about:blank with an iframe is another origin than the console; the browser must refuse to render it.
  await page.setContent(`<iframe id="victim" src="${baseURL}/login" width="800" height="600"></iframe>`);
  const frame = page.frameLocator('#victim');
  await page.waitForTimeout(0);
  await expect.poll(() => framed.some((t) => /frame-ancestors|X-Frame-Options|refused to connect|Refused to display/i.test(t)) ||
    page.frames().some((f) => f.url().startsWith('chrome-error://'))).toBe(true);
  await expect(frame.getByLabel('Username')).toHaveCount(0);
});

test('a user changes their password; the old one stops working and the other browser is signed out', async ({ page, browser }) => {
  await signIn(page);
  await page.request.post('/api/admin/users', { data: { username: 'pat', password: 'pat-password-1', role: 'user' } });

  const pat = await browser.newContext();
  const patPage = await pat.newPage();
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  for (const p of [patPage, otherPage]) {
    await p.goto('/login');
    await p.getByLabel('Username').fill('pat');
    await p.getByLabel('Password').fill('pat-password-1');
    await p.getByRole('button', { name: /sign in/i }).click();
    await expect(p.getByTestId('dashboard')).toBeVisible();
  }

  await patPage.getByRole('button', { name: /account menu/i }).click();
  await patPage.getByRole('menuitem', { name: 'Password' }).click();
  await expect(patPage.getByRole('heading', { name: 'Password', level: 1 })).toBeVisible();
  await patPage.getByLabel('Current password').fill('wrong-password');
  await patPage.getByLabel('New password', { exact: true }).fill('pat-password-2');
  await patPage.getByLabel('New password again').fill('pat-password-2');
  await patPage.getByRole('button', { name: 'Change password' }).click();
  await expect(patPage.getByRole('alert')).toContainText(/current password is not right/i);

  await patPage.getByLabel('Current password').fill('pat-password-1');
  await patPage.getByRole('button', { name: 'Change password' }).click();
  await expect(patPage.getByText(/other sessions were signed out/i)).toBeVisible();
  // The other browser is told why and sent to the sign-in page; this one stays.
  await expect(otherPage).toHaveURL(/\/login/);
  await expect(otherPage.getByText(/password was changed/i)).toBeVisible();
  await patPage.goto('/');
  await expect(patPage.getByTestId('dashboard')).toBeVisible();
  await shootBothThemes(patPage, 'settings-password', async () => {
    await patPage.goto('/settings/password');
    await expect(patPage.getByRole('heading', { name: 'Password', level: 1 })).toBeVisible();
  });
  await pat.close();
  await other.close();
});

test('an admin disables, re-enables, resets and deletes a user from the admin page', async ({ page, browser }) => {
  await signIn(page);
  await page.request.post('/api/admin/users', { data: { username: 'quinn', password: 'quinn-password-1', role: 'user' } });
  const quinn = await browser.newContext();
  const quinnPage = await quinn.newPage();
  await quinnPage.goto('/login');
  await quinnPage.getByLabel('Username').fill('quinn');
  await quinnPage.getByLabel('Password').fill('quinn-password-1');
  await quinnPage.getByRole('button', { name: /sign in/i }).click();
  await expect(quinnPage.getByTestId('dashboard')).toBeVisible();

  await page.goto('/admin');
  const row = page.getByRole('row').filter({ hasText: 'quinn' });
  await expect(row.getByText('Active')).toBeVisible();
  await row.getByRole('button', { name: 'Actions for quinn' }).click();
  await page.getByRole('menuitem', { name: 'Disable' }).click();
  await expect(row.getByText('Disabled')).toBeVisible();
  await expect(quinnPage).toHaveURL(/\/login/);
  await expect(quinnPage.getByText(/disabled by an administrator/i)).toBeVisible();

  await row.getByRole('button', { name: 'Actions for quinn' }).click();
  await page.getByRole('menuitem', { name: 'Enable' }).click();
  await expect(row.getByText('Active')).toBeVisible();

  await row.getByRole('button', { name: 'Actions for quinn' }).click();
  await page.getByRole('menuitem', { name: /new password/i }).click();
  await page.getByRole('dialog').getByLabel('New password', { exact: true }).fill('quinn-password-2');
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByText(/new password set for quinn/i)).toBeVisible();
  const relogin = await quinnPage.request.post('/api/auth/login', { data: { username: 'quinn', password: 'quinn-password-2' } });
  expect(relogin.status()).toBe(200);

  await shootBothThemes(page, 'admin-users', async () => {
    await expect(page.getByRole('row').filter({ hasText: 'quinn' })).toBeVisible();
  });

  await row.getByRole('button', { name: 'Actions for quinn' }).click();
  await page.getByRole('menuitem', { name: /delete/i }).click();
  await page.getByRole('button', { name: 'Delete user' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'quinn' })).toHaveCount(0);
  // The admin's own row offers no way to lock themselves out.
  await page.getByRole('button', { name: `Actions for ${ADMIN.username}`, exact: true }).click();
  await expect(page.getByRole('menuitem', { name: 'Disable' })).toHaveCount(0);
  await page.keyboard.press('Escape');
  await quinn.close();
});
