import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type CDPSession, type Page } from '@playwright/test';
import { CHROMIUM_LAUNCH, CHROMIUM_PATH } from '../tests/e2e/chromium.ts';
import { rssSampler, sleep } from './lib.ts';

/**
 * The browser rows of `npm run bench:terminal`: what a user sees. One `cat` of the bench's
 * file in a real Chromium tab, typed into a terminal page like a person would, timed from
 * the Enter keypress until the command's last line is on screen and drawn, with xterm.js
 * rendering as each app chooses (the probe reports which renderer that was).
 */

/** Added to every page before its own scripts: see browser-probe.js. */
const PROBE_SCRIPT = path.join(import.meta.dirname, 'browser-probe.js');
/** The same window for both apps; each fits its terminal into it. */
const VIEWPORT = { width: 1280, height: 800 };

declare global {
  interface Window {
    vmoBenchProbe: {
      renderer(): string;
      screenLines(termGlobal: string | null): string[];
      arm(marker: string, termGlobal: string | null): void;
      done: Promise<number> | null;
    };
  }
}

/** A terminal web app as the benchmark drives it. */
export interface TerminalPage {
  /** Opens the app's terminal in `page`: signed in, attached, and taking keystrokes. */
  open(page: Page): Promise<void>;
  /** The terminal's size as the app shows or keeps it. */
  size(page: Page): Promise<{ cols: number; rows: number }>;
  /** The window property holding the page's xterm.js Terminal, when the app exposes one (needed to read a WebGL screen). */
  termGlobal?: string;
}

/** What the browser spent on a run, beside the time: the tab's renderer process, and the GPU process (WebGL draws there). */
export interface BrowserCost {
  tabPeakRssMb: number | null;
  tabCpuSeconds: number | null;
  gpuCpuSeconds: number | null;
}

export interface TabRun extends BrowserCost {
  /** The xterm.js renderer the app picked in this browser: DOM or WebGL. */
  renderer: string;
  cols: number;
  rows: number;
  /** Enter keypress to the frame with the last line drawn. */
  seconds: number;
  mbPerS: number;
  /** The app's server process. */
  serverPeakRssMb: number;
}

/** Chromium as the browser tests start it, or why it cannot run. */
export async function launchChromium(): Promise<Browser | { skipped: string }> {
  if (!fs.existsSync(CHROMIUM_PATH)) return { skipped: `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)` };
  try {
    return await chromium.launch(CHROMIUM_LAUNCH);
  } catch (err) {
    return { skipped: `Chromium did not start: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** Our console: the session cookie the bench signed in with, then Terminals → New terminal, as a user opens one. */
export function oursTerminalPage(base: string, cookie: string): TerminalPage {
  const [name, ...value] = cookie.split('=');
  return {
    async open(page) {
      await page.context().addCookies([{ name, value: value.join('='), url: base }]);
      await page.goto(`${base}/terminals`);
      await page.getByRole('button', { name: 'New terminal' }).click();
      await page.waitForURL(/\/terminals\/[0-9a-f-]{36}$/);
      await page.locator('[data-testid="terminal-view"][data-phase="attached"]').waitFor();
      await page.getByText('Keyboard', { exact: true }).waitFor();
    },
    async size(page) {
      // The page shows the PTY's size beside the title, as "120×40".
      const text = await page.getByTestId('terminal-view').getByText(/^\d+×\d+$/).textContent();
      const [cols, rows] = (text ?? '').split('×').map(Number);
      return { cols, rows };
    },
  };
}

/** wetty's page: its terminal starts on connect, and it keeps the Terminal in `window.wetty_term`. */
export function wettyTerminalPage(base: string): TerminalPage {
  return {
    termGlobal: 'wetty_term',
    async open(page) {
      await page.goto(base);
      await page.waitForFunction(() => 'wetty_term' in window);
    },
    size: (page) => page.evaluate(() => {
      const term = (window as unknown as { wetty_term: { cols: number; rows: number } }).wetty_term;
      return { cols: term.cols, rows: term.rows };
    }),
  };
}

/** Polls the visible rows until `ready` holds for them. */
async function waitForScreen(page: Page, app: TerminalPage, ready: (lines: string[]) => boolean, what: string, timeoutMs = 30_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const lines = await page.evaluate((g) => window.vmoBenchProbe.screenLines(g), app.termGlobal ?? null);
    if (ready(lines)) return;
    if (performance.now() > deadline) throw new Error(`${what} did not appear on screen within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** Chromium's processes as it reports them: kind ("renderer", "GPU", …), pid and CPU seconds so far. */
async function chromiumProcesses(cdp: CDPSession) {
  const { processInfo } = await cdp.send('SystemInfo.getProcessInfo') as { processInfo: Array<{ type: string; id: number; cpuTime: number }> };
  return processInfo;
}

/**
 * Samples the browser's processes during a run. Chromium does not say which renderer
 * process serves which tab, so every renderer's RSS is sampled; the tab's is the one that
 * spent the most CPU meanwhile (it parsed the whole file; the others idle). All nulls when
 * Chromium will not list its processes.
 */
async function browserCostSampler(browser: Browser): Promise<{ stop(): Promise<BrowserCost> }> {
  const unknown: BrowserCost = { tabPeakRssMb: null, tabCpuSeconds: null, gpuCpuSeconds: null };
  let cdp: CDPSession;
  let before: Map<number, number>;
  try {
    cdp = await browser.newBrowserCDPSession();
    before = new Map((await chromiumProcesses(cdp)).map((p) => [p.id, p.cpuTime]));
  } catch {
    return { stop: async () => unknown };
  }
  const samplers = new Map([...before.keys()].map((pid) => [pid, rssSampler(pid)]));
  return {
    async stop() {
      const peaks = new Map([...samplers].map(([pid, s]) => [pid, s.stop()]));
      try {
        const spent = (await chromiumProcesses(cdp))
          .filter((p) => before.has(p.id))
          .map((p) => ({ ...p, cpu: p.cpuTime - before.get(p.id)! }))
          .sort((a, b) => b.cpu - a.cpu);
        const tab = spent.find((p) => p.type === 'renderer');
        const gpu = spent.find((p) => p.type === 'GPU');
        return {
          tabPeakRssMb: tab ? peaks.get(tab.id) || null : null,
          tabCpuSeconds: tab ? +tab.cpu.toFixed(2) : null,
          gpuCpuSeconds: gpu ? +gpu.cpu.toFixed(2) : null,
        };
      } catch {
        return unknown;
      } finally {
        await cdp.detach().catch(() => {});
      }
    },
  };
}

/** Rejects after `ms`: a tab that never shows the marker fails its row instead of hanging the run. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} not on screen after ${ms / 1000} s`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Opens `app` in a fresh tab (a context of its own: no cookies or caches from another run),
 * types `cat <file>; echo; echo <marker>` and presses Enter, and times until the marker is a
 * whole row of the visible screen and two more frames are drawn. `shot`: a screenshot of
 * the tab at the end (also when it failed), to see that the file's last lines and the
 * marker are really there.
 */
export async function catInTab(
  browser: Browser, app: TerminalPage, run: { file: string; mb: number; serverPid: number; shot?: string },
): Promise<TabRun> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  await context.addInitScript({ path: PROBE_SCRIPT });
  const page = await context.newPage();
  try {
    await app.open(page);
    await waitForScreen(page, app, (lines) => lines.some((l) => l.trim() !== ''), 'the shell prompt');
    const marker = `vmo-bench-done-${crypto.randomBytes(4).toString('hex')}`;
    // Typed with an empty pair of quotes inside, so the command line on screen never reads `marker`: only echo's output does.
    const typed = marker.replace('done', '""done');
    await page.locator('.xterm').first().click();
    // The bare echo ends the file's last line if it has no newline of its own (the bench's does not).
    await page.keyboard.type(`cat ${run.file}; echo; echo ${typed}`);
    // The whole line echoed (rows joined: it may wrap) before the clock starts.
    await waitForScreen(page, app, (lines) => lines.join('').includes(typed), 'the typed command');
    const renderer = await page.evaluate(() => window.vmoBenchProbe.renderer());
    const { cols, rows } = await app.size(page);
    await page.evaluate(([m, g]) => window.vmoBenchProbe.arm(m, g), [marker, app.termGlobal ?? null] as const);
    const server = rssSampler(run.serverPid);
    const chromiumCost = await browserCostSampler(browser);
    const stopSampling = async () => ({ serverPeakRssMb: server.stop(), ...await chromiumCost.stop() });
    const ms = await (async () => {
      await page.keyboard.press('Enter');
      return within(Math.max(120_000, run.mb * 10_000), `the line after cat of ${run.mb} MB was`, page.evaluate(() => window.vmoBenchProbe.done!));
    })().catch(async (err: unknown) => {
      await stopSampling();
      throw err;
    });
    const seconds = ms / 1000;
    return { renderer, cols, rows, seconds: +seconds.toFixed(2), mbPerS: +(run.mb / seconds).toFixed(1), ...await stopSampling() };
  } finally {
    if (run.shot) {
      fs.mkdirSync(path.dirname(run.shot), { recursive: true });
      await page.screenshot({ path: run.shot }).catch(() => {});
    }
    await context.close();
  }
}
