import { serveForParent } from './bench-server.ts';

/** Entry of a benchmark's server process (compiled, see startServerProcess); settings come from the parent. */
await serveForParent(JSON.parse(process.env.BENCH_SERVER_ENV ?? '{}') as Record<string, string>);
