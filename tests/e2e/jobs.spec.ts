import { expect, test, type Page } from '@playwright/test';
import { signIn } from './session.ts';

/** The Run button of one target on the Projects page. */
const runButton = (page: Page, project: string, target: string) =>
  page.locator(`[data-project="${project}"] [data-target="${target}"]`).getByRole('button', { name: 'Run', exact: true });

const JOB_URL = /\/jobs\/[0-9a-f-]{36}$/;

test('a target run from Projects streams live, and a reload mid-run shows the whole log once, in order', async ({ page }) => {
  await signIn(page);
  await page.goto('/projects');
  await runButton(page, 'fixture', 'slow').click();
  await expect(page).toHaveURL(JOB_URL);

  const lines = page.getByTestId('log-line');
  // Lines arrive while the job runs (20 lines over ~2 s).
  await expect(lines.filter({ hasText: /^line 3$/ })).toBeVisible();
  await expect(page.getByTestId('job-status')).toHaveAttribute('data-status', 'running');
  expect(await lines.filter({ hasText: /^line 20$/ }).count()).toBe(0);

  await page.reload();
  await expect(page.getByTestId('job-status')).toHaveAttribute('data-status', 'success', { timeout: 20_000 });
  await expect(lines.filter({ hasText: /^line 20$/ })).toBeVisible();

  const texts = (await lines.allTextContents()).filter((t) => /^line \d+$/.test(t));
  expect(texts).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i + 1}`));
  // Line numbers are consecutive: nothing missing or doubled around the reload.
  const numbers = await lines.evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-line'))));
  expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1));
});

test('a 1,000,000-line log opens, reaches its last line, and renders only a window of rows', async ({ page }) => {
  test.setTimeout(60_000);
  await signIn(page);
  const res = await page.request.post('/api/jobs', {
    data: { type: 'make', project: 'fixture', target: 'count', variables: { N: '1000000' } },
  });
  expect(res.status()).toBe(201);
  const job = await res.json();

  await page.goto(`/jobs/${job.id}`);
  await expect(page.getByTestId('job-status')).toHaveAttribute('data-status', 'success', { timeout: 40_000 });
  await expect(page.getByTestId('log-line-count')).toHaveText(/^1\D?000\D?002 lines$/, { timeout: 30_000 });

  const viewer = page.getByTestId('log-viewer');
  const lines = page.getByTestId('log-line');
  // To the top, then back down with the button.
  await viewer.focus();
  await page.keyboard.press('g');
  await expect(lines.filter({ hasText: /^1$/ })).toBeVisible();
  await page.getByRole('button', { name: 'Jump to bottom' }).click();
  const last = lines.filter({ hasText: /^1000000$/ });
  await expect(last).toBeVisible();
  await expect(last).toHaveAttribute('data-line', '1000001');

  expect(await lines.count()).toBeLessThan(300);
  // And in the middle of the log as well.
  await viewer.evaluate((el) => (el.scrollTop = el.scrollHeight / 2));
  await expect(lines.filter({ hasText: /^50\d{4}$/ }).first()).toBeVisible();
  expect(await lines.count()).toBeLessThan(300);

  // A log this large is searched by the server; the hit is scrolled into view and marked.
  await page.getByLabel('Search output').fill('123456');
  await expect(page.getByTestId('search-count')).toHaveText(/^1 \/ 1$/, { timeout: 20_000 });
  const hit = lines.filter({ hasText: /^123456$/ });
  await expect(hit).toBeVisible();
  await expect(hit).toHaveAttribute('data-line', '123457');
  await expect(hit.locator('mark')).toHaveText('123456');
});

test('the console searches, jumps to the first error, and opens permalinks', async ({ page }) => {
  await signIn(page);
  const start = async (target: string, variables?: Record<string, string>) => {
    const res = await page.request.post('/api/jobs', { data: { type: 'make', project: 'fixture', target, variables } });
    expect(res.status()).toBe(201);
    return (await res.json()).id as string;
  };
  const lines = page.getByTestId('log-line');

  const counted = await start('count', { N: '300' });
  await page.goto(`/jobs/${counted}`);
  await expect(page.getByTestId('job-status')).toHaveAttribute('data-status', 'success', { timeout: 20_000 });
  const search = page.getByLabel('Search output');
  await search.fill('25');
  // 25, 125, 225, 250…259: 13 lines contain "25".
  await expect(page.getByTestId('search-count')).toHaveText(/^\d+ \/ 13$/);
  await search.press('Enter');
  await expect(page.locator('.log-row.is-current')).toHaveCount(1);
  // Regular expressions too: a line that is exactly 2 digits ending in 7.
  await page.getByRole('button', { name: 'Regular expression' }).click();
  await search.fill('^\\d7$');
  await expect(page.getByTestId('search-count')).toHaveText(/^\d+ \/ 9$/);

  // A permalink selects its line after a reload.
  await page.goto(`/jobs/${counted}#L150`);
  const linked = lines.filter({ hasText: /^149$/ });
  await expect(linked).toBeVisible();
  await expect(linked).toHaveAttribute('data-line', '150');
  await expect(linked).toHaveClass(/is-selected/);

  const failing = await start('fail');
  await page.goto(`/jobs/${failing}`);
  await expect(page.getByTestId('job-status')).toHaveAttribute('data-status', 'failed', { timeout: 20_000 });
  await page.getByRole('button', { name: 'First error' }).click();
  await expect(page.locator('.log-row.is-selected')).toContainText('about to fail');
  await expect(page).toHaveURL(/#L\d+$/);
});

test('the jobs list shows a failed job with its status', async ({ page }) => {
  await signIn(page);
  await page.goto('/projects');
  await runButton(page, 'fixture', 'fail').click();
  await expect(page).toHaveURL(JOB_URL);
  const jobId = page.url().split('/').pop()!;
  await expect(page.getByTestId('job-status')).toHaveAttribute('data-status', 'failed', { timeout: 20_000 });
  // The recipe exits 3, so make itself exits 2.
  await expect(page.getByTestId('job-exit-code')).toHaveText('2');
  await expect(page.getByTestId('log-line').filter({ hasText: 'about to fail' })).toHaveAttribute('data-stream', 'stderr');

  await page.goto('/jobs');
  const row = page.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId('job-status')).toHaveText('failed');
  await expect(row).toContainText('make fail');

  // The status filter is in the URL and keeps the failed job.
  await page.goto('/jobs?status=failed');
  await expect(row).toBeVisible();
  await expect(page.locator('[data-testid="job-row"]:not([data-status="failed"])')).toHaveCount(0);

  // Rows open the job.
  await row.getByRole('link', { name: 'make fail' }).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/${jobId}$`));

  // The dashboard lists it among recent failures and links to it.
  await page.goto('/');
  const failures = page.getByTestId('recent-failures');
  await expect(failures.getByRole('link', { name: /make fail/ }).first()).toBeVisible();
  await failures.getByRole('link', { name: /make fail/ }).first().click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
});
