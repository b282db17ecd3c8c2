import type { z } from 'zod';
import { validationFailed } from '../errors.ts';

/** Parses input with a zod schema; every problem is named in one `validation_failed` error. */
export function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const fields: Record<string, string> = {};
  for (const issue of r.error.issues) fields[issue.path.join('.') || '(body)'] = issue.message;
  const first = Object.entries(fields)[0];
  throw validationFailed(`${first[0]}: ${first[1]}`, { fields });
}
