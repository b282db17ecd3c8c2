import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import type { TestProject } from 'vitest/node';
import { assertDockerReachable } from '../../server/providers/docker/docker-engine.ts';
import { buildVmImage, DEFAULT_VM_IMAGE, imageExists } from '../../server/providers/docker/vm-image.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../server/platform/embedded-postgres.ts';
import { createLogger } from '../../server/platform/logger.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

let embedded: EmbeddedDatabase | undefined;
let dir: string | undefined;

/**
 * One real Postgres for the whole run: TEST_DATABASE_URL when set, otherwise an embedded
 * server in a temporary directory. Each test file then creates its own database in it.
 */
export async function setup(project: TestProject) {
  let url = process.env.TEST_DATABASE_URL;
  if (!url) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-test-pg-'));
    // Open to the postgres user (as root), so the database stays inside this directory and
    // teardown removes it; a closed one would be kept under /var/lib/vm-orchestrator.
    fs.chmodSync(dir, 0o755);
    embedded = await startEmbeddedPostgres(dir, createLogger('warn'));
    url = embedded.url;
  }
  project.provide('pgAdminUrl', url);
  await buildVmImageOnce();
}

/**
 * The VM suites run in parallel files; building their image once here keeps two of them
 * from building it at the same time. Without a Docker engine or mmdebstrap nothing is done
 * here: each suite then fails (CI) or skips (laptop) with what to install.
 */
async function buildVmImageOnce() {
  const docker = new Docker();
  try {
    await assertDockerReachable(docker, 2000);
  } catch {
    return;
  }
  if (await imageExists(docker, DEFAULT_VM_IMAGE)) return;
  console.warn(`Building ${DEFAULT_VM_IMAGE} for the VM suites (first run only; about a minute)`);
  await buildVmImage({ docker }).catch((err) => console.warn(`could not build ${DEFAULT_VM_IMAGE}: ${(err as Error).message}`));
}

export async function teardown() {
  await embedded?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
