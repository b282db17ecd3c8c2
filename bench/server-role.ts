import { serveForParent } from './bench-server.ts';
import { mapStackTracesLazily } from '../server/platform/stack-trace-map.ts';

mapStackTracesLazily(import.meta.url);

/** Entry of a benchmark's server process (compiled, see startServerProcess); settings come from the parent. */
await serveForParent(JSON.parse(process.env.BENCH_SERVER_ENV ?? '{}') as Record<string, string>);
