/** What the fake OVH API serves and how it says no: catalogs, payload types, OVH's error shape, and its authentication check. */
import { createHash } from 'node:crypto';
import http from 'node:http';

export interface Flavor { id: string; name: string; region: string; vcpus: number; ram: number; disk: number; osType: string; available: boolean; type: string }
export interface Image { id: string; name: string; region: string; status: string; type: string; visibility: string; minDisk: number; minRam: number; creationDate: string }
export interface SshKey { id: string; name: string; publicKey: string; fingerprint: string; regions: string[] }

export interface Result { status: number; body: unknown }

/** Flavors as OVH lists them: RAM in MB counted in thousands, disk in GB. */
export function flavorCatalog(region: string): Flavor[] {
  const f = (name: string, vcpus: number, ram: number, disk: number, extra: Partial<Flavor> = {}): Flavor => ({
    id: `flv-${name}-${region.toLowerCase()}`, name, region, vcpus, ram, disk, osType: 'linux', available: true, type: 'ovh.ssd.eg', ...extra,
  });
  return [
    f('b2-30', 8, 30000, 200),
    f('b2-15', 4, 15000, 100),
    f('d2-2', 1, 2000, 25, { type: 'ovh.d2' }),
    f('b2-7', 2, 7000, 50),
    f('d2-4', 2, 4000, 50, { type: 'ovh.d2' }),
    f('s1-8', 2, 8000, 40, { type: 'ovh.vps-ssd' }),
    f('b2-7-win', 2, 7000, 50, { osType: 'windows' }),
    f('r2-60', 4, 60000, 100, { available: false }),
    // Same name in another region: must never be picked for this one.
    { ...f('c2-7', 2, 7000, 50), id: 'flv-c2-7-sbg5', region: 'SBG5' },
  ];
}

export function imageCatalog(region: string): Image[] {
  const i = (name: string, minDisk = 0): Image => ({
    id: `img-${name.toLowerCase().replace(/\W+/g, '-')}-${region.toLowerCase()}`,
    name, region, status: 'active', type: 'linux', visibility: 'public', minDisk, minRam: 0, creationDate: '2025-01-01T00:00:00Z',
  });
  return [i('Debian 12'), i('Debian 11'), i('Ubuntu 24.04'), i('Rocky Linux 9', 30)];
}

function errorBody(status: number, message: string, errorCode?: string, errorClass?: string) {
  const defaults: Record<number, string> = {
    400: 'Client::BadRequest', 403: 'Client::Forbidden', 404: 'Client::NotFound', 409: 'Client::Conflict',
    500: 'Server::InternalServerError', 503: 'Server::ServiceUnavailable',
  };
  return {
    class: errorClass ?? defaults[status] ?? (status >= 500 ? 'Server::Error' : 'Client::Error'),
    message,
    ...(errorCode ? { errorCode } : {}),
    httpCode: `${status} ${http.STATUS_CODES[status] ?? ''}`.trim(),
  };
}

export const fail = (status: number, message: string, errorCode?: string, errorClass?: string): Result => ({ status, body: errorBody(status, message, errorCode, errorClass) });
export const ok = (body: unknown): Result => ({ status: 200, body });


/** What OVH checks before anything else, in its order, with its answers; null when the request may proceed. */
export function checkOvhAuth(
req: http.IncomingMessage,
rawBody: string,
creds: { applicationKey: string; applicationSecret: string; consumerKey: string },
now: number,
windowSeconds: number,
): Result | null {
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const app = header('x-ovh-application');
  if (!app || app !== creds.applicationKey) return fail(403, 'This application key is invalid', 'INVALID_KEY', 'Client::Forbidden');
  const consumer = header('x-ovh-consumer');
  const timestamp = header('x-ovh-timestamp');
  const signature = header('x-ovh-signature');
  if (!consumer || !timestamp || !signature) {
    return fail(400, 'Invalid signature', 'INVALID_SIGNATURE', 'Client::BadRequest::InvalidSignature');
  }
  if (consumer !== creds.consumerKey) return fail(403, 'This credential does not exist', 'INVALID_CREDENTIAL', 'Client::Forbidden');
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(ts - now) > windowSeconds) {
    return fail(400, 'Query out of time', 'QUERY_TIME_OUT', 'Client::BadRequest');
  }
  // Recomputed from what arrived: the URL as requested (query included) and the raw body.
  const fullUrl = `http://${req.headers.host}${req.url}`;
  const material = [creds.applicationSecret, consumer, req.method, fullUrl, rawBody, timestamp].join('+');
  const expected = `$1$${createHash('sha1').update(material).digest('hex')}`;
  if (signature !== expected) return fail(400, 'Invalid signature', 'INVALID_SIGNATURE', 'Client::BadRequest::InvalidSignature');
  return null;
}
