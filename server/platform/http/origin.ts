/**
 * Cross-site request defence. Browsers attach cookies to cross-site requests and
 * WebSocket upgrades, so every state change and every socket handshake must come from
 * the console's own origin (or an origin the operator allowed). Requests with no Origin
 * come from non-browser clients (curl, scripts), which carry no ambient cookie risk.
 */
export function isAllowedOrigin(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): boolean {
  if (origin === undefined) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false; // "null" (sandboxed iframes, file://) and garbage
  }
  // Compare normalised origins: case and default ports must not let a foreign origin slip through.
  const normalised = parsed.origin.toLowerCase();
  if (allowed.some((a) => new URL(a).origin.toLowerCase() === normalised)) return true;
  return !!host && parsed.host.toLowerCase() === host.toLowerCase() && /^https?:$/.test(parsed.protocol);
}

/** Fetch metadata: a browser marks requests from another site; refuse those too. */
export function isCrossSiteFetch(secFetchSite: string | undefined): boolean {
  return secFetchSite === 'cross-site';
}
