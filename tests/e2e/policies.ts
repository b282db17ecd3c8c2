import type { Page } from '@playwright/test';

/**
 * Records what the browser refused under the page's policies: CSP violations (the DOM event,
 * recorded per document, and the console line Chromium prints) and Permissions-Policy
 * complaints. Call before the first navigation; the returned function gives everything
 * refused so far, across navigations.
 */
export async function watchPolicies(page: Page): Promise<() => Promise<string[]>> {
  const console: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to|Permissions-Policy|Unrecognized feature/i.test(msg.text())) console.push(msg.text());
  });
  await page.addInitScript(() => {
    const w = window as unknown as { __policyViolations: string[] };
    w.__policyViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      w.__policyViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  // A document's events go with it when the page navigates: collect them on each call.
  const seen: string[] = [];
  return async () => {
    const now = await page.evaluate(() => {
      const w = window as unknown as { __policyViolations?: string[] };
      const list = w.__policyViolations ?? [];
      w.__policyViolations = [];
      return list;
    });
    seen.push(...now);
    return [...seen, ...console];
  };
}
