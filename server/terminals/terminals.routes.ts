import { Router } from 'express';
import type { EventRepository } from '../events/event.repository.ts';
import type { JobRepository } from '../jobs/job.repository.ts';
import type { JobService } from '../jobs/job.service.ts';
import { currentUser } from '../platform/http/middleware.ts';
import { writeOrWait } from '../platform/http/stream-write.ts';
import { asciicastLines } from './asciicast.ts';
import type { TerminalService } from './terminal.service.ts';

/** `GET /api/terminals` (running terminals) and `GET /api/jobs/:id/asciicast` (a recording as asciicast v2). */
export function terminalRoutes(terminals: TerminalService, jobs: JobService, jobRepo: JobRepository, events: EventRepository): Router {
  const r = Router();

  r.get('/terminals', async (req, res) => {
    res.json({ terminals: await terminals.list(currentUser(req)) });
  });

  r.get('/jobs/:id/asciicast', async (req, res) => {
    const job = await jobs.get(currentUser(req), req.params.id);
    const spec = (await jobRepo.spec(job.id)) as { cols?: number; rows?: number; argv?: string[] } | null;
    const lines = asciicastLines(job, events, {
      cols: spec?.cols ?? 80,
      rows: spec?.rows ?? 24,
      shell: job.target ? undefined : spec?.argv?.[0],
    });
    res.setHeader('content-type', 'application/x-asciicast');
    res.setHeader('content-disposition', `attachment; filename="terminal-${job.id}.cast"`);
    res.setHeader('x-content-type-options', 'nosniff');
    for await (const chunk of lines) {
      if (!(await writeOrWait(res, chunk))) return; // the client went away
    }
    res.end();
  });

  return r;
}
