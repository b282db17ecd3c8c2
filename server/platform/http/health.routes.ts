import { Router } from 'express';
import type { Db } from '../db.ts';

export function healthRoutes(db: Db, version: string): Router {
  const r = Router();
  r.get('/health', async (_req, res) => {
    try {
      await db.query('SELECT 1');
      res.json({ status: 'ok', db: 'ok', version });
    } catch {
      res.status(503).json({ status: 'degraded', db: 'down', version });
    }
  });
  return r;
}
