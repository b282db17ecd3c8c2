/**
 * The Docker Engine client (dockerode) without the weight of what the console never uses.
 * dockerode requires its BuildKit session support when it loads: gRPC and protobufjs, 118
 * modules and about 7 MB of memory that every server would carry for as long as it runs,
 * for `buildImage` with BuildKit, which the console does not call (the VM image is
 * imported, see vm-image.ts). So the session module is put in the module cache as a
 * stand-in that loads the real one on its first call: nothing changes for a caller that
 * does use it, except that it pays the load then.
 */
import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';

const require = createRequire(import.meta.url);

type WithSession = (...args: unknown[]) => unknown;

export function loadDockerode(): typeof Dockerode {
  const sessionFile = resolvedOrNull('dockerode/lib/session.js');
  if (sessionFile && !require.cache[sessionFile]) require.cache[sessionFile] = loadedOnFirstCall(sessionFile);
  return require('dockerode') as typeof Dockerode;
}

/** A module record for `file` whose export, a function, loads the real module when first called. */
function loadedOnFirstCall(file: string): NodeJS.Module {
  let real: WithSession | undefined;
  const standIn: WithSession = (...args) => {
    if (!real) {
      delete require.cache[file];
      real = require(file) as WithSession;
    }
    return real(...args);
  };
  return { id: file, filename: file, loaded: true, exports: standIn, children: [], paths: [] } as unknown as NodeJS.Module;
}

/** A dockerode whose files moved is loaded whole rather than fail (its unit test then says so). */
function resolvedOrNull(id: string): string | null {
  try {
    return require.resolve(id);
  } catch {
    return null;
  }
}
