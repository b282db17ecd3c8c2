import type { LaunchOptions } from '@playwright/test';

/** Debian's Chromium (`apt-get install chromium`), never a browser Playwright downloads. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * How browser tests and the benchmarks' browser rows start Chromium: no sandbox (they run
 * as root in containers), no GPU, and none of the browser's own network traffic or
 * background updates competing with what is measured.
 */
export const CHROMIUM_LAUNCH: LaunchOptions = {
  executablePath: CHROMIUM_PATH,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};
