import type { NextFunction, Request, Response } from 'express';

/**
 * Features no page of the console uses are switched off for it and anything it embeds; the
 * clipboard stays for the copy buttons and terminals, fullscreen for terminals. Only names
 * Chromium knows, so the console stays free of "unrecognized feature" warnings.
 */
const PERMISSIONS_POLICY = [
  'accelerometer=()', 'camera=()', 'display-capture=()', 'geolocation=()', 'gyroscope=()', 'hid=()',
  'magnetometer=()', 'microphone=()', 'midi=()', 'payment=()', 'serial=()', 'usb=()',
  'clipboard-read=(self)', 'clipboard-write=(self)', 'fullscreen=(self)',
].join(', ');

/**
 * A policy for everything that is not a page (API answers, files): nothing may load from it
 * and nothing may frame it. Pages get their own policy from the SvelteKit build (svelte.config.js),
 * which replaces this header with one holding the nonce of each page's boot script.
 */
export const NON_PAGE_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Headers on every answer of the server. */
export function securityHeaders() {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.set({
      'Content-Security-Policy': NON_PAGE_CSP,
      // frame-ancestors for current browsers, X-Frame-Options for old ones: a page that opens
      // terminals must never be framed by another site and clicked through.
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'Permissions-Policy': PERMISSIONS_POLICY,
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
    });
    next();
  };
}
