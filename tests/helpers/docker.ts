import Docker from 'dockerode';
import { assertDockerReachable } from '../../server/providers/docker/docker-engine.ts';
import { buildVmImage, DEFAULT_VM_IMAGE, imageExists } from '../../server/providers/docker/vm-image.ts';
import { requireTool } from './require-tool.ts';

const INSTALL = 'apt-get install docker.io, then start it as root: dockerd &';

/**
 * The Docker Engine for suites that need a real dockerd, or null to skip them. Like
 * requireTool: when dockerd does not answer, CI fails (a skipped suite proves nothing) and a
 * developer machine skips with what to install and start. The default VM image is built
 * once if it is missing (about a minute; needs mmdebstrap), so no test waits for it.
 */
export async function dockerForTests(): Promise<Docker | null> {
  const docker = new Docker();
  try {
    await assertDockerReachable(docker);
  } catch (err) {
    const message = `${(err as Error).message} (${INSTALL})`;
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(message, { cause: err });
    console.warn(`SKIP: ${message}`);
    return null;
  }
  if (!(await imageExists(docker, DEFAULT_VM_IMAGE))) {
    if (!requireTool('mmdebstrap', 'mmdebstrap')) return null;
    console.warn(`Building ${DEFAULT_VM_IMAGE} for the Docker suites (first run only; about a minute)`);
    await buildVmImage({ docker });
  }
  return docker;
}

/** Removes every container carrying `label` (`key` or `key=value`), running or not. */
export async function removeContainersLabelled(docker: Docker, label: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {})));
  return list.length;
}
