import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { User } from '../../src/lib/shared/auth.ts';
import {
  PROJECT_ALIAS, type Project, type ProjectSource, type ProjectStatus, type RegistryError, type TargetList,
} from '../../src/lib/shared/projects.ts';
import type { AuditLog } from '../platform/audit.ts';
import { conflict, forbidden, notFound, validationFailed } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { discoverTargets, findExecutable, MAKEFILE_NAMES, type Discovery, type DiscoveryOptions } from './make-targets.ts';
import { readRegistry, type RegistryEntry } from './mkcli-registry.ts';
import type { ProjectRepository } from './project.repository.ts';

export interface ProjectsServiceOptions {
  /** PATH, timeout and output cap for target discovery (tests inject a PATH with a wrapper). */
  discovery?: Omit<DiscoveryOptions, 'alias'>;
  /** Home directory for `~` in the registry; the server user's by default. */
  home?: string;
}

interface CachedTargets {
  dir: string;
  stamp: string;
  list: Discovery;
}

/**
 * Projects from the mkcli registry (re-read on every call, so editing the file needs no
 * restart) and from the UI (the `projects` table), and their make targets. No HTTP types.
 */
export class ProjectsService {
  private lastRegistryErrors: RegistryError[] = [];
  private readonly cache = new Map<string, CachedTargets>();
  private readonly inflight = new Map<string, Promise<Discovery>>();

  constructor(
    private readonly repo: ProjectRepository,
    private readonly registryPath: string,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly opts: ProjectsServiceOptions = {},
  ) {}

  /** Registry and UI projects by alias. On a shared alias the registry wins and the clash is reported. */
  async list(): Promise<Project[]> {
    const [registry, rows] = await Promise.all([readRegistry(this.registryPath, this.opts.home), this.repo.list()]);
    const errors = [...registry.errors];
    const byAlias = new Map<string, { alias: string; dir: string; source: ProjectSource }>();
    const fromRegistry = new Map<string, RegistryEntry>();
    for (const e of registry.entries) {
      byAlias.set(e.alias, { alias: e.alias, dir: e.dir, source: 'registry' });
      fromRegistry.set(e.alias, e);
    }
    for (const row of rows) {
      const shadowing = fromRegistry.get(row.alias);
      if (shadowing) {
        errors.push({
          line: shadowing.line,
          text: `${shadowing.alias}=${shadowing.dir}`,
          reason: `alias "${row.alias}" is also registered in the UI (${row.dir}); the registry entry wins`,
        });
        this.log.warn({ alias: row.alias, uiDir: row.dir, registryDir: shadowing.dir }, 'UI project hidden by a registry entry');
        continue;
      }
      byAlias.set(row.alias, { alias: row.alias, dir: row.dir, source: 'ui' });
    }
    this.lastRegistryErrors = errors;
    const sorted = [...byAlias.values()].sort((a, b) => (a.alias < b.alias ? -1 : 1));
    return Promise.all(sorted.map(async (p) => ({ ...p, ...(await dirStatus(p.dir)) })));
  }

  /** Skipped registry lines and registry/UI alias clashes found by the last `list()`. */
  registryErrors(): RegistryError[] {
    return this.lastRegistryErrors;
  }

  async get(alias: string): Promise<Project> {
    const entry = (await readRegistry(this.registryPath, this.opts.home)).entries.find((e) => e.alias === alias);
    const found = entry
      ? { alias, dir: entry.dir, source: 'registry' as const }
      : await this.repo.get(alias).then((row) => row && { alias, dir: row.dir, source: 'ui' as const });
    if (!found) throw notFound('Project');
    return { ...found, ...(await dirStatus(found.dir)) };
  }

  /** The directory a job runs in, symlinks resolved, so what runs is what was checked. */
  async resolveDir(alias: string): Promise<string> {
    const project = await this.get(alias);
    if (project.status !== 'ok') {
      throw conflict(`Project ${alias} is unavailable: ${project.error}`, { alias, status: project.status });
    }
    try {
      return await fs.realpath(project.dir);
    } catch (err) {
      throw conflict(`Project ${alias} is unavailable: ${project.dir} cannot be resolved (${(err as NodeJS.ErrnoException).code})`);
    }
  }

  /**
   * The project's targets, cached per alias and directory. The cache key includes the
   * mtime and size of every makefile make read and of the wrapper, so an edited Makefile
   * is noticed on the next call; `refresh` covers what the key cannot see (a new file
   * matched by `include $(wildcard …)`, a wrapper whose answer changed).
   */
  async targets(alias: string, { refresh = false }: { refresh?: boolean } = {}): Promise<TargetList> {
    const dir = await this.resolveDir(alias);
    const cached = this.cache.get(alias);
    if (!refresh && cached?.dir === dir && cached.stamp === (await this.stamp(alias, dir, cached.list.inputs))) {
      return toTargetList(cached.list);
    }
    const key = `${alias}\0${dir}`;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.discover(alias, dir).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return toTargetList(await pending);
  }

  async hasTarget(alias: string, name: string): Promise<boolean> {
    return (await this.targets(alias)).targets.some((t) => t.name === name);
  }

  async add(actor: User, input: { alias: string; dir: string }): Promise<Project> {
    if (actor.role !== 'admin') throw forbidden('Administrators only');
    const { alias, dir } = input;
    if (!PROJECT_ALIAS.test(alias)) {
      throw validationFailed('alias may use letters, digits, _ . - (1-64 characters)', { fields: { alias: 'invalid' } });
    }
    if (!path.isAbsolute(dir)) throw validationFailed('dir must be an absolute path', { fields: { dir: 'not absolute' } });
    const real = await fs.realpath(dir).catch(() => null);
    if (!real || !(await fs.stat(real)).isDirectory()) {
      throw validationFailed(`dir: ${dir} is not an existing directory`, { fields: { dir: 'not a directory' } });
    }
    const registry = await readRegistry(this.registryPath, this.opts.home);
    if (registry.entries.some((e) => e.alias === alias)) {
      throw conflict(`Project ${alias} already exists in the mkcli registry`, { alias });
    }
    try {
      await this.repo.insert({ alias, dir: real, createdBy: actor.id });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw conflict(`Project ${alias} already exists`, { alias });
      throw err;
    }
    this.cache.delete(alias);
    await this.audit.record({ type: 'admin', action: 'project.add', userId: actor.id, metadata: { alias, dir: real } });
    return { alias, dir: real, source: 'ui', ...(await dirStatus(real)) };
  }

  /** Removes a UI project. Registry projects belong to the registry file, which this never writes. */
  async remove(actor: User, alias: string): Promise<void> {
    if (actor.role !== 'admin') throw forbidden('Administrators only');
    if (!(await this.repo.delete(alias))) {
      const registry = await readRegistry(this.registryPath, this.opts.home);
      if (registry.entries.some((e) => e.alias === alias)) {
        throw conflict(`Project ${alias} comes from the mkcli registry (${this.registryPath}); edit the registry file to remove it`, { alias });
      }
      throw notFound('Project');
    }
    this.cache.delete(alias);
    await this.audit.record({ type: 'admin', action: 'project.remove', userId: actor.id, metadata: { alias } });
  }

  private async discover(alias: string, dir: string): Promise<Discovery> {
    const list = await discoverTargets(dir, { ...this.opts.discovery, alias });
    this.cache.set(alias, { dir, stamp: await this.stamp(alias, dir, list.inputs), list });
    this.log.debug({ alias, source: list.source, targets: list.targets.length }, 'targets discovered');
    return list;
  }

  /** Changes when a makefile is edited, created or removed, or a wrapper appears or goes. */
  private async stamp(alias: string, dir: string, inputs: string[]): Promise<string> {
    const files = [...new Set([...MAKEFILE_NAMES.map((n) => path.join(dir, n)), ...inputs])];
    const parts = await Promise.all(
      files.map((f) => fs.stat(f).then((s) => `${f}@${s.mtimeMs}:${s.size}`, () => `${f}@-`)),
    );
    const searchPath = this.opts.discovery?.path ?? process.env.PATH ?? '';
    parts.push(`wrapper=${(await findExecutable(alias, searchPath)) ?? '-'}`);
    return parts.join('\n');
  }
}

const toTargetList = ({ targets, source, reason }: Discovery): TargetList => (reason ? { targets, source, reason } : { targets, source });

async function dirStatus(dir: string): Promise<{ status: ProjectStatus; error?: string }> {
  try {
    if (!(await fs.stat(dir)).isDirectory()) return { status: 'not_a_directory', error: `${dir} is not a directory` };
    await fs.access(dir, fsc.R_OK | fsc.X_OK);
    return { status: 'ok' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { status: 'missing', error: `${dir} does not exist` };
    return { status: 'unreadable', error: `${dir} cannot be read (${code})` };
  }
}
