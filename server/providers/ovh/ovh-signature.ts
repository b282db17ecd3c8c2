import { createHash } from 'node:crypto';

/** What OVH signs: the application secret and consumer key never leave this function's inputs. */
export interface OvhSignatureInput {
  applicationSecret: string;
  consumerKey: string;
  method: string;
  /** The full URL the request goes to, query string included, exactly as sent. */
  url: string;
  /** The exact body bytes sent as a string; '' when there is none. */
  body: string;
  /** Seconds on OVH's clock (local time corrected by the `/auth/time` delta). */
  timestamp: number;
}

/**
 * OVH API v1 request signature: `"$1$" + sha1hex(AS+CK+METHOD+URL+BODY+TS joined by "+")`.
 * The server recomputes it from what it received, so the URL and body must be the ones sent,
 * byte for byte (a re-serialized body with different key order or spacing fails).
 */
export function signOvhRequest(input: OvhSignatureInput): string {
  const material = [
    input.applicationSecret,
    input.consumerKey,
    input.method.toUpperCase(),
    input.url,
    input.body,
    String(input.timestamp),
  ].join('+');
  return `$1$${createHash('sha1').update(material, 'utf8').digest('hex')}`;
}
