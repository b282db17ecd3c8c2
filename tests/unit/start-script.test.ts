import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVER_BUNDLE, SERVER_NODE_FLAGS } from '../../server/tools/server-bundle.ts';

describe('npm start', () => {
  // The benchmarks and the startup tests run the server with SERVER_NODE_FLAGS; what they
  // measure and test is what `npm start` runs only while the two agree.
  it('runs the compiled server with the node flags the benchmarks and tests use', () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8'));
    expect(pkg.scripts.start).toBe(`npm run build:if-needed && node ${SERVER_NODE_FLAGS.join(' ')} ${SERVER_BUNDLE}`);
  });
});
