import { Router } from 'express';
import { z } from 'zod';
import { isFinal, type CreateJobBody } from '../../src/lib/shared/jobs.ts';
import type { EventRepository } from '../events/event.repository.ts';
import { toWire } from '../events/event-format.ts';
import { validationFailed } from '../platform/errors.ts';
import { currentUser } from '../platform/http/middleware.ts';
import { writeOrWait } from '../platform/http/stream-write.ts';
import { parse } from '../platform/http/validate.ts';
import type { JobService } from './job.service.ts';
import { searchLog } from './log-search.ts';

const listQuery = z.object({
  type: z.string().max(100).optional(),
  status: z.string().max(200).optional(),
  project: z.string().max(64).optional(),
  target: z.string().max(200).optional(),
  host: z.string().max(200).optional(),
  vm: z.string().max(64).optional(),
  user: z.string().max(64).optional(),
  q: z.string().max(200).optional(),
  since: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
  before: z.string().regex(/^[\d\-T:.Z+]+\|[0-9a-f-]{36}$/i, 'use the `next` value of the previous page').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const EVENTS_PAGE_MAX_BYTES = 4 * 1024 * 1024;
const eventsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  /** Pages stop at about this many bytes; a console asks for a small first page so it shows output sooner. */
  maxBytes: z.coerce.number().int().min(1024).max(EVENTS_PAGE_MAX_BYTES).default(EVENTS_PAGE_MAX_BYTES),
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
});
const searchQuery = z.object({
  q: z.string().min(1).max(500),
  regex: z.enum(['0', '1']).default('0'),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});

const OUTPUT_STREAMS = new Set(['stdout', 'stderr', 'pty']);

export function jobRoutes(jobs: JobService, events: EventRepository): Router {
  const r = Router();

  r.post('/jobs', async (req, res) => {
    const job = await jobs.create(currentUser(req), req.body as CreateJobBody);
    res.status(201).json(job);
  });

  r.get('/jobs', async (req, res) => {
    res.json(await jobs.list(currentUser(req), parse(listQuery, req.query)));
  });

  r.get('/jobs/:id', async (req, res) => {
    res.json(await jobs.get(currentUser(req), req.params.id));
  });

  r.get('/jobs/:id/events', async (req, res) => {
    const q = parse(eventsQuery, req.query);
    const { job, events: page } = await jobs.events(currentUser(req), req.params.id, q.after, q.limit, q.maxBytes);
    const last = page.length ? page[page.length - 1].seq : q.after;
    res.json({
      events: page.map((e) => toWire(e, q.encoding)),
      lastSeq: job.lastSeq,
      done: isFinal(job.status) && last >= job.lastSeq,
    });
  });

  /** The exact output bytes, streamed page by page; while the job runs, what is stored so far. */
  r.get('/jobs/:id/log', async (req, res) => {
    const job = await jobs.get(currentUser(req), req.params.id);
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('content-disposition', `attachment; filename="job-${job.id}.log"`);
    res.setHeader('x-content-type-options', 'nosniff');
    if (job.truncated) res.setHeader('x-output-truncated', '1');
    let after = 0;
    for (let open = true; open; ) {
      const page = await events.list(job.id, after, 2000, 4 * 1024 * 1024);
      if (!page.length) break;
      for (const e of page) {
        if (OUTPUT_STREAMS.has(e.stream) && !(open = await writeOrWait(res, e.chunk))) break;
      }
      after = page[page.length - 1].seq;
      if (after >= job.lastSeq) break;
    }
    res.end();
  });

  r.get('/jobs/:id/search', async (req, res) => {
    const q = parse(searchQuery, req.query);
    const job = await jobs.get(currentUser(req), req.params.id);
    let regex: RegExp | undefined;
    if (q.regex === '1') {
      try {
        regex = new RegExp(q.q, 'i');
      } catch {
        throw validationFailed('Not a valid regular expression');
      }
    }
    res.json(await searchLog(events, job.id, { text: q.q, regex }, q.limit));
  });

  r.post('/jobs/:id/cancel', async (req, res) => {
    await jobs.cancel(currentUser(req), req.params.id);
    res.status(202).json(await jobs.get(currentUser(req), req.params.id));
  });

  r.post('/jobs/:id/rerun', async (req, res) => {
    res.status(201).json(await jobs.rerun(currentUser(req), req.params.id));
  });

  return r;
}
