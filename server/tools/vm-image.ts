import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { AppError } from '../platform/errors.ts';
import { buildVmImage, DEFAULT_VM_IMAGE, imageExists } from '../providers/docker/vm-image.ts';

/**
 * `npm run vm:image [-- --force] [--name repo:tag] [--source 'deb URL bookworm main' …]`
 * Builds the default VM image once, ahead of the first "Create VM", so that click does not wait
 * half a minute for a Debian bootstrap. Needs root (mmdebstrap) and a running dockerd.
 */
const { values } = parseArgs({
  options: {
    force: { type: 'boolean', default: false },
    name: { type: 'string', default: DEFAULT_VM_IMAGE },
    source: { type: 'string', multiple: true },
  },
});

const docker = new Docker();
const name = values.name;
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());

try {
  const previous = (await imageExists(docker, name)) ? await docker.getImage(name).inspect() : null;
  if (previous && !values.force) {
    console.log(`${name} already exists (${previous.Id}, ${(previous.Size / 1e6).toFixed(1)} MB); --force rebuilds it.`);
    process.exit(0);
  }
  const built = await buildVmImage({
    docker,
    name,
    aptSources: values.source,
    signal: controller.signal,
    onProgress: (line) => console.log(line),
  });
  console.log(`image: ${built.name}`);
  console.log(`id:    ${built.id}`);
  console.log(`size:  ${(built.sizeBytes / 1e6).toFixed(1)} MB`);
  console.log(`time:  ${built.seconds.toFixed(1)} s`);
  if (previous && previous.Id !== built.id) {
    // The rebuilt tag leaves the old image untagged. VMs created from it still need it: the
    // engine refuses (409) to remove an image a container uses, and then it stays.
    await docker
      .getImage(previous.Id)
      .remove()
      .then(() => console.log(`removed the previous ${previous.Id}`))
      .catch(() => console.log(`kept the previous ${previous.Id}: containers still use it`));
  }
} catch (err) {
  if (err instanceof AppError) {
    console.error(`${err.code}: ${err.message}`);
    if (typeof err.details?.stderr === 'string') console.error(err.details.stderr);
  } else {
    console.error(err instanceof Error ? err.message : err);
  }
  process.exit(1);
}
