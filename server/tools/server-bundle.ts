import path from 'node:path';
import { build } from 'esbuild';

/** Where `npm start` runs the server from, relative to the checkout. */
export const SERVER_BUNDLE = '.build/server/main.mjs';

/**
 * Node flags the server runs with (package.json's `start` passes the same; a unit test
 * holds them together). No `--enable-source-maps`: stack traces name the .ts lines through
 * platform/stack-trace-map.ts, which reads the map only when a trace needs it. A small young
 * generation (2 MB semi-spaces instead of 16) collects the wrappers of output buffers
 * sooner: a terminal flood peaked at about 160 MB instead of 215-230 MB, at no measurable
 * cost in throughput (docs/benchmarks.md). `--expose-gc` lets the screen worker collect
 * the scrollback of closed terminals, which it would otherwise keep (pty-screen.worker.mjs).
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=2', '--expose-gc'];

/**
 * Compiles the server (server/ and the shared types it imports) into one ES module;
 * packages stay imports of node_modules. Run as plain JavaScript the server needs about
 * 60 MB less memory than under a TypeScript loader, and starts faster. The source map
 * keeps stack traces pointing at the .ts files (see platform/stack-trace-map.ts).
 */
export async function bundleServer(root: string, what = { entry: 'server/main.ts', out: SERVER_BUNDLE }): Promise<string> {
  const outfile = path.join(root, what.out);
  await build({
    entryPoints: [path.join(root, what.entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  });
  return outfile;
}
