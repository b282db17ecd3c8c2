/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * The session cookie. Over HTTPS it is `Secure` and carries the `__Host-` prefix, which makes
 * the browser refuse it unless it is Secure, host-only and for path / (no subdomain or plain
 * HTTP page can plant or overwrite it).
 */
export const SESSION_COOKIE = 'vmo_session';
export const SECURE_SESSION_COOKIE = '__Host-vmo_session';

export function sessionCookieName(secure: boolean): string {
  return secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
}

/** The session from either cookie; the secure one wins (browsers send it only over HTTPS). */
export function readSessionCookie(header: string | undefined): string | undefined {
  return readCookie(header, SECURE_SESSION_COOKIE) ?? readCookie(header, SESSION_COOKIE);
}
