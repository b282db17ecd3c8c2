import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvhClient } from '../../server/providers/ovh/ovh-client.ts';
import { signOvhRequest } from '../../server/providers/ovh/ovh-signature.ts';

const AS = 'EgWIz07P0HYwtQDs';
const CK = 'MtSwSrPpTSnMjZtZcOjBXsXGa9rMnjrw';
const TS = 1457018875;

/** The documented formula, written out here on its own so the module is checked against it, not against itself. */
function expectedSignature(method: string, url: string, body: string, ts: number, as = AS, ck = CK) {
  return '$1$' + createHash('sha1').update(`${as}+${ck}+${method}+${url}+${body}+${ts}`).digest('hex');
}

describe('OVH request signature', () => {
  it('matches a vector computed outside Node for a GET with a query string', () => {
    const url = 'https://eu.api.ovh.com/1.0/cloud/project/abc/flavor?region=GRA11';
    const signature = signOvhRequest({ applicationSecret: AS, consumerKey: CK, method: 'GET', url, body: '', timestamp: TS });
    // printf '%s' 'AS+CK+GET+URL++TS' | sha1sum
    expect(signature).toBe('$1$61c796bb86d70dcac012f70c4ba731537e53a638');
    expect(signature).toBe(expectedSignature('GET', url, '', TS));
  });

  it('signs the exact body string of a POST', () => {
    const url = 'https://eu.api.ovh.com/1.0/cloud/project/abc/sshkey';
    const body = '{"name":"vmo-1","publicKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOZ7 dev@console","region":"GRA11"}';
    const signature = signOvhRequest({ applicationSecret: AS, consumerKey: CK, method: 'POST', url, body, timestamp: TS });
    expect(signature).toBe('$1$dea6252e6c4e5105362e028f422a04d2d134ab80');
  });

  it('changes when any signed part changes', () => {
    const base = { applicationSecret: AS, consumerKey: CK, method: 'POST', url: 'https://eu.api.ovh.com/1.0/x', body: '{"a":1}', timestamp: TS };
    const reference = signOvhRequest(base);
    expect(signOvhRequest({ ...base, body: '{"a":2}' })).not.toBe(reference);
    expect(signOvhRequest({ ...base, body: '{"a": 1}' })).not.toBe(reference);
    expect(signOvhRequest({ ...base, url: 'https://eu.api.ovh.com/1.0/x?y=1' })).not.toBe(reference);
    expect(signOvhRequest({ ...base, method: 'PUT' })).not.toBe(reference);
    expect(signOvhRequest({ ...base, timestamp: TS + 1 })).not.toBe(reference);
    expect(signOvhRequest({ ...base, applicationSecret: 'other' })).not.toBe(reference);
    expect(signOvhRequest({ ...base, consumerKey: 'other' })).not.toBe(reference);
  });
});

describe('OVH client headers', () => {
  interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }
  const seen: Seen[] = [];
  const serverTime = 2_000_000_000;
  let server: http.Server;
  let endpoint: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: `http://${req.headers.host}${req.url}`, headers: req.headers, body });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(req.url === '/1.0/auth/time' ? String(serverTime) : '{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/1.0`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the four headers, signed over the full URL and the body bytes sent, on the server clock', async () => {
    const localMs = 1_000_000_000_000;
    const client = new OvhClient({ endpoint, credentials: { applicationKey: 'ak', applicationSecret: AS, consumerKey: CK }, now: () => localMs });
    await client.post('/cloud/project/p1/sshkey', { name: 'vm', publicKey: 'ssh-ed25519 AAAA' });
    await client.get('/cloud/project/p1/flavor', { query: { region: 'GRA11' } });

    const [time, post, get] = seen;
    expect(time!.url).toBe(`${endpoint}/auth/time`);
    expect(time!.headers['x-ovh-signature']).toBeUndefined();

    // The local clock is 1e9 s behind: the timestamp is OVH's time.
    expect(post!.headers['x-ovh-timestamp']).toBe(String(serverTime));
    expect(post!.headers['x-ovh-application']).toBe('ak');
    expect(post!.headers['x-ovh-consumer']).toBe(CK);
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.headers['x-ovh-signature']).toBe(expectedSignature('POST', post!.url, post!.body, serverTime));

    expect(get!.url).toBe(`${endpoint}/cloud/project/p1/flavor?region=GRA11`);
    expect(get!.body).toBe('');
    expect(get!.headers['x-ovh-signature']).toBe(expectedSignature('GET', get!.url, '', serverTime));
    // A signature over a different body does not match what was sent.
    expect(post!.headers['x-ovh-signature']).not.toBe(expectedSignature('POST', post!.url, post!.body.replace('vm', 'vn'), serverTime));
  });
});
