/**
 * Environment for processes the console starts: an allow-list of the server's variables,
 * never the whole environment (which may hold DATABASE_URL, tokens, cloud keys).
 */
const PASS_THROUGH = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'SSH_AUTH_SOCK'];

export function childEnv(extra: Record<string, string> = {}, source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of PASS_THROUGH) if (source[key]) env[key] = source[key]!;
  for (const [key, value] of Object.entries(source)) if (key.startsWith('LC_') && value) env[key] = value;
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return { ...env, ...extra };
}
