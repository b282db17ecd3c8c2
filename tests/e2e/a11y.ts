import axe from 'axe-core';
import { expect, type Page } from '@playwright/test';

/** The standard the console is held to: WCAG 2.0 and 2.1, levels A and AA. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

export type Theme = 'light' | 'dark';
export const THEMES: readonly Theme[] = ['light', 'dark'];

/**
 * Applies a theme the way a user's saved choice is: mode-watcher's stored mode, read when a
 * page loads. Call it on a page of the console's origin; the next navigation uses it.
 */
export async function saveTheme(page: Page, theme: Theme) {
  await page.evaluate((t) => localStorage.setItem('mode-watcher-mode', t), theme);
}

/** `<html>` carries the class the theme's colours hang on (and only in dark mode). */
export async function expectTheme(page: Page, theme: Theme) {
  const html = page.locator('html');
  if (theme === 'dark') await expect(html).toHaveClass(/(^|\s)dark(\s|$)/);
  else await expect(html).not.toHaveClass(/(^|\s)dark(\s|$)/);
}

export interface AxeNode {
  target: string;
  /** The start of the element's markup, to recognise it when the selector is terse. */
  html: string;
  summary: string;
}

export interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  helpUrl: string;
  nodes: AxeNode[];
}

/**
 * Runs axe-core on the page as it is now. axe is injected through the devtools protocol
 * (`page.evaluate`), not a script tag, so the console's Content-Security-Policy does not get
 * in the way; it is injected again after each navigation.
 */
export async function scan(page: Page): Promise<AxeViolation[]> {
  // Contrast is measured as drawn: let finite animations (a dialog fading and zooming in) end
  // first. Endless ones (spinners, pulses) are left running.
  await page.waitForFunction(() =>
    document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getComputedTiming().endTime === Infinity),
  );
  const present = await page.evaluate(() => typeof (window as { axe?: unknown }).axe === 'object');
  if (!present) await page.evaluate(axe.source);
  return page.evaluate(
    async (tags) => {
      const w = window as unknown as { axe: typeof axe };
      const results = await w.axe.run(document, {
        runOnly: { type: 'tag', values: tags },
        resultTypes: ['violations'],
      });
      return results.violations.map((v) => ({
        id: v.id,
        impact: v.impact ?? 'unknown',
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({
          target: n.target.map((t) => (typeof t === 'string' ? t : JSON.stringify(t))).join(' >> '),
          html: n.html.length > 160 ? `${n.html.slice(0, 160)}…` : n.html,
          summary: (n.failureSummary ?? '').replace(/\s*\n\s*/g, ' | '),
        })),
      }));
    },
    WCAG_TAGS,
  );
}

/** One readable block per violation: enough to find and fix each failing element from a test log. */
export function describeViolations(violations: AxeViolation[]): string {
  return violations
    .map((v) => {
      const nodes = v.nodes.map((n) => `    - ${n.target}\n      ${n.html}\n      ${n.summary}`).join('\n');
      return `  ${v.id} (${v.impact}): ${v.help}, ${v.nodes.length} node(s) — ${v.helpUrl}\n${nodes}`;
    })
    .join('\n');
}

/**
 * Fails (softly with `soft`, so one test can report every theme) when axe finds any WCAG 2
 * A/AA violation on the page. `label` names the page and theme in the message.
 */
export async function expectAccessible(page: Page, label: string, options: { soft?: boolean } = {}) {
  const violations = await scan(page);
  const message = `${label}: ${violations.length} accessibility violation(s) at ${page.url()}\n${describeViolations(violations)}`;
  const check = options.soft ? expect.soft : expect;
  // The list of ids keeps the diff short; the message holds the details.
  check(
    violations.map((v) => `${v.id} ×${v.nodes.length}`),
    message,
  ).toEqual([]);
}
