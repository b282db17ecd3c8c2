import { expect, type Page } from '@playwright/test';

/** The admin account tests/e2e/server.ts starts the console with. */
export const ADMIN = { username: 'admin', password: 'e2e-admin-password' };

/** Signs in through the login page and waits for the dashboard. */
export async function signIn(page: Page) {
  await page.goto('/login');
  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: /sign in/i }).click();
  await expect(page.getByTestId('dashboard')).toBeVisible();
}
