import { Router } from 'express';
import { z } from 'zod';
import { currentUser, requireAdmin } from '../platform/http/middleware.ts';
import { parse } from '../platform/http/validate.ts';
import type { AuditLog } from '../platform/audit.ts';
import type { KnownHostsService } from './known-hosts.service.ts';
import type { KeyStore } from './ssh-keys.ts';

const unlockBody = z.object({
  path: z.string().min(1).max(4096).refine((p) => p.startsWith('/'), 'must be an absolute path'),
  passphrase: z.string().min(1).max(1024),
});

/**
 * Host-key trust and key unlocking, administrators only: these decide which servers the
 * console talks to and with which keys.
 */
export function knownHostsRoutes(knownHosts: KnownHostsService, keys: KeyStore, audit: AuditLog): Router {
  const r = Router();
  r.use(['/known-hosts', '/ssh/keys'], requireAdmin);

  r.get('/known-hosts', async (_req, res) => {
    res.json(await knownHosts.list());
  });
  r.post('/known-hosts', async (req, res) => {
    res.json(await knownHosts.scan(currentUser(req), req.body ?? {}));
  });
  r.post('/known-hosts/accept', async (req, res) => {
    res.status(201).json(await knownHosts.accept(currentUser(req), req.body ?? {}));
  });
  r.delete('/known-hosts/:id', async (req, res) => {
    await knownHosts.remove(currentUser(req), req.params.id);
    res.status(204).end();
  });

  /** Decrypts an encrypted IdentityFile for this server process; the passphrase is not kept. */
  r.post('/ssh/keys/unlock', async (req, res) => {
    const { path, passphrase } = parse(unlockBody, req.body);
    await keys.unlock(path, passphrase);
    await audit.record({ type: 'admin', action: 'ssh_key.unlock', userId: currentUser(req).id, metadata: { path } });
    res.status(204).end();
  });

  return r;
}
