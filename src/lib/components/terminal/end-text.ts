import type { JobStatus } from '$lib/shared/jobs';

/** How a terminal ended, in the words the terminal pages use ("Ended (exit code 2)"). */
export function terminalEndText(end: { status: JobStatus; exitCode: number | null } | null | undefined): string {
  if (!end) return '';
  if (end.status === 'canceled') return 'Ended (killed)';
  if (end.status === 'interrupted') return 'Ended (server stopped)';
  return end.exitCode === null ? 'Ended' : `Ended (exit code ${end.exitCode})`;
}
