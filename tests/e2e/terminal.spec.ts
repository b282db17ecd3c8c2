import fs from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { signIn } from './session.ts';

const SHOTS = process.env.E2E_SHOTS_DIR ?? '/tmp/shots';


/** A screen row whose whole text is `text` (xterm's DOM renderer: one div per row in `.xterm-rows`). */
const row = (page: Page, text: string) =>
  page.locator('[data-testid="terminal-screen"] .xterm-rows > div').filter({ hasText: new RegExp(`^\\s*${text}\\s*$`) });

test('a terminal survives a reload: output stays and typing still works', async ({ page }) => {
  await signIn(page);
  await page.goto('/terminals');
  await page.getByRole('button', { name: 'New terminal' }).click();
  await expect(page).toHaveURL(/\/terminals\/[0-9a-f-]{36}$/);
  const view = page.getByTestId('terminal-view');
  await expect(view).toHaveAttribute('data-phase', 'attached');
  await expect(page.getByText('Keyboard', { exact: true })).toBeVisible();

  await page.getByTestId('terminal-screen').click();
  await page.keyboard.type('echo hello');
  await page.keyboard.press('Enter');
  await expect(row(page, 'hello')).toHaveCount(1);

  await page.reload();
  await expect(view).toHaveAttribute('data-phase', 'attached');
  // The screen is redrawn from the server: the earlier output is still there.
  await expect(row(page, 'hello')).toHaveCount(1);
  await page.getByTestId('terminal-screen').click();
  await page.keyboard.type('echo again');
  await page.keyboard.press('Enter');
  await expect(row(page, 'again')).toHaveCount(1);

  fs.mkdirSync(SHOTS, { recursive: true });
  for (const theme of ['light', 'dark'] as const) {
    await page.evaluate((t) => localStorage.setItem('mode-watcher-mode', t), theme);
    await page.reload();
    await expect(view).toHaveAttribute('data-phase', 'attached');
    await expect(row(page, 'again')).toHaveCount(1);
    await page.screenshot({ path: `${SHOTS}/terminal-${theme}.png` });
  }

  // The list shows it with one viewer; killing it ends the session and offers the recording.
  await page.getByRole('button', { name: 'Kill' }).click();
  await expect(page.getByText('Ended (killed)').first()).toBeVisible();
  await page.getByRole('button', { name: 'Replay recording' }).click();
  await expect(page.getByTestId('terminal-replay')).toBeVisible();
  await expect(row(page, 'again')).toHaveCount(1, { timeout: 20_000 });
  await page.screenshot({ path: `${SHOTS}/terminal-replay-dark.png` });
});

test('the terminals page lists a running terminal and opens it', async ({ page }) => {
  await signIn(page);
  const res = await page.request.post('/api/jobs', { data: { type: 'terminal', cwd: 'fixture' }, headers: { origin: new URL(page.url()).origin } });
  expect(res.status()).toBe(201);
  const job = await res.json();
  await page.goto('/terminals');
  const link = page.getByRole('link', { name: 'Attach' }).and(page.locator(`[href="/terminals/${job.id}"]`));
  await expect(link).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/terminals-list.png` });
  await link.click();
  await expect(page.getByTestId('terminal-view')).toHaveAttribute('data-phase', 'attached');
  await page.getByTestId('terminal-screen').click();
  await page.keyboard.type('basename "$PWD"');
  await page.keyboard.press('Enter');
  await expect(row(page, 'jobs')).toHaveCount(1);

  // A second tab watches until it takes the keyboard; then the first one watches.
  const second = await page.context().newPage();
  await second.goto(`/terminals/${job.id}`);
  await expect(second.getByTestId('terminal-view')).toHaveAttribute('data-phase', 'attached');
  await expect(row(second, 'jobs')).toHaveCount(1);
  await expect(second.getByText('Another tab has the keyboard')).toBeVisible();
  await second.screenshot({ path: `${SHOTS}/terminal-watching.png` });
  await second.getByRole('button', { name: 'Take keyboard' }).click();
  await expect(page.getByText('Another tab has the keyboard')).toBeVisible();
  await second.getByTestId('terminal-screen').click();
  await second.keyboard.type('echo from-second-tab');
  await second.keyboard.press('Enter');
  await expect(row(page, 'from-second-tab')).toHaveCount(1);
  await second.close();
});

test('"Run in terminal" on a project target runs make in a PTY and shows how it ended', async ({ page }) => {
  await signIn(page);
  await page.goto('/projects');
  await page.getByRole('button', { name: 'Run hello in a terminal' }).click();
  await expect(page).toHaveURL(/\/terminals\/[0-9a-f-]{36}$/);
  await expect(row(page, 'hello from make')).toHaveCount(1, { timeout: 20_000 });
  await expect(row(page, 'second line')).toHaveCount(1);
  await expect(page.getByText(/Ended/).first()).toBeVisible({ timeout: 20_000 });
});
