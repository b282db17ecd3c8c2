import fs from 'node:fs';
import type { Page } from '@playwright/test';

/** Where browser tests leave screenshots for people to look at. */
export const SHOTS = process.env.E2E_SHOTS_DIR ?? '/tmp/shots';

/** Full-page screenshots of the current page in the light and the dark theme, each after a reload and `ready`. */
export async function shootBothThemes(page: Page, name: string, ready: () => Promise<void>) {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const theme of ['light', 'dark'] as const) {
    await page.evaluate((t) => localStorage.setItem('mode-watcher-mode', t), theme);
    await page.reload();
    await ready();
    await page.screenshot({ path: `${SHOTS}/${name}-${theme}.png`, fullPage: true });
  }
}
