/**
 * Reads config files into ConfigOptions the way readconf.c's read_config_file_depth and
 * process_config_line do: line by line, Host/Match switching which lines apply, Include
 * pulling files in at the point it appears, and every error in a file collected so the
 * whole file is reported before ssh would give up on it.
 */
import fs from 'node:fs/promises';
import { OK, applyDirective, fail, type LineResult } from './ssh-config-directives.ts';
import { SshConfigError } from './ssh-config-error.ts';
import type { Environment } from './ssh-config-expand.ts';
import { globIncludePaths } from './ssh-config-glob.ts';
import { lookupKeyword } from './ssh-config-keywords.ts';
import { lexLine } from './ssh-config-lexer.ts';
import { evaluateMatch } from './ssh-config-match.ts';
import type { ConfigOptions } from './ssh-config-options.ts';
import { matchPattern, matchPatternList } from './ssh-config-patterns.ts';
import { hasSafeOwnerAndMode } from './ssh-config-permissions.ts';

/** readconf.c READCONF_MAX_DEPTH. */
const MAX_INCLUDE_DEPTH = 16;

export interface ReaderEnvironment {
  localUser: string;
  uid: number;
  passwdHome: string;
  envHome: string;
  localHostname: string;
  env: Environment;
  exec: (command: string) => Promise<boolean>;
  warnings: string[];
}

/** Which pass this is and what it resolves. */
export interface Pass {
  /** What Host patterns match: the alias as typed, or in the final pass the canonical host name. */
  host: string;
  originalHost: string;
  final: boolean;
  /** Set when a `Match final` is seen (first pass only). */
  wantsFinalPass: boolean;
}

export interface FileFlags {
  /** A user config: relative Includes resolve under ~/.ssh and IdentityFiles count as user-provided. */
  userConfig: boolean;
  /** Check owner and mode (included files and the implicit ~/.ssh/config). */
  checkPermissions: boolean;
  /** Parsed only: Host and Match never activate (Include inside a block that does not apply). */
  neverMatch: boolean;
}

/** Whether the lines being read currently apply; shared by a file and the files it includes. */
interface Activity {
  active: boolean;
}

export class ConfigReader {
  constructor(
    private readonly options: ConfigOptions,
    private readonly pass: Pass,
    private readonly environment: ReaderEnvironment,
  ) {}

  /**
   * Reads one file, or reports why it could not be opened (ssh decides per caller whether
   * that matters); throws SshConfigError where ssh gives up on the configuration.
   */
  async readFile(path: string, flags: FileFlags, activity: Activity = { active: true }, depth = 0): Promise<{ opened: true } | { opened: false; code: string }> {
    if (depth > MAX_INCLUDE_DEPTH) throw new SshConfigError('Too many recursive configuration includes');
    let text: string;
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(path, 'r');
    } catch (err) {
      return { opened: false, code: (err as NodeJS.ErrnoException).code ?? 'EIO' };
    }
    try {
      if (flags.checkPermissions && !hasSafeOwnerAndMode(await handle.stat(), this.environment.uid)) {
        throw new SshConfigError(`Bad owner or permissions on ${path}`);
      }
      try {
        text = await handle.readFile('utf8');
      } catch (err) {
        // A directory opens but reads as nothing, as fopen/getline treat it.
        if ((err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
        text = '';
      }
    } finally {
      await handle.close();
    }

    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const errors: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const result = await this.processLine(lines[i], path, i + 1, flags, activity, depth);
      if (!result.ok) errors.push(`${path} line ${i + 1}: ${result.message}`);
    }
    if (errors.length > 0) {
      throw new SshConfigError(`${errors.join('\n')}\n${path}: terminating, ${errors.length} bad configuration options`);
    }
    return { opened: true };
  }

  private async processLine(raw: string, file: string, line: number, flags: FileFlags, activity: Activity, depth: number): Promise<LineResult> {
    const lexed = lexLine(raw);
    if (lexed.kind === 'blank') return OK;
    if (lexed.kind === 'missing-argument') return fail(`no argument after keyword "${lexed.keyword}"`);
    const where = `${file}:${line}`;
    const spec = lookupKeyword(lexed.keyword);
    if (!spec) {
      const ignored = this.options.ignoredUnknown;
      if (ignored === null || matchPatternList(lexed.keyword, ignored, true) !== 1) {
        return fail(`Bad configuration option: ${lexed.keyword}`);
      }
    }
    const args = lexed.args;
    if (args === null) return fail('invalid quotes');
    if (!spec) {
      this.environment.warnings.push(`${where}: ignored unknown option "${lexed.keyword}"`);
      return OK;
    }
    if (spec.disposition) {
      if (spec.disposition !== 'ignored') this.environment.warnings.push(`${where}: ${spec.disposition} option "${lexed.keyword}" ignored`);
      return OK;
    }

    switch (spec.option) {
      case 'host':
        return this.host(args, flags, activity);
      case 'match':
        return this.match(lexed.rest, args.length, flags, activity, where);
      case 'include':
        return this.include(args, flags, activity, depth);
    }
    return applyDirective(spec, lexed.rest, args, {
      options: this.options,
      active: activity.active,
      where,
      userConfig: flags.userConfig,
      env: this.environment.env,
    });
  }

  private host(args: string[], flags: FileFlags, activity: Activity): LineResult {
    activity.active = false;
    for (const pattern of args) {
      if (pattern === '') return fail('keyword host empty argument');
      if (flags.neverMatch) break;
      const negated = pattern.startsWith('!');
      // Host patterns are matched case-sensitively against the name as typed (or, in the final pass, the canonical name).
      if (matchPattern(this.pass.host, negated ? pattern.slice(1) : pattern)) {
        if (negated) {
          activity.active = false;
          break;
        }
        activity.active = true;
      }
    }
    return OK;
  }

  private async match(rest: string, argumentCount: number, flags: FileFlags, activity: Activity, where: string): Promise<LineResult> {
    const o = this.options;
    const outcome = await evaluateMatch(
      rest,
      {
        host: this.pass.host,
        originalHost: this.pass.originalHost,
        finalPass: this.pass.final,
        hostname: o.hostname,
        user: o.user,
        port: o.port,
        hostKeyAlias: o.hostKeyAlias,
        localUser: this.environment.localUser,
        uid: this.environment.uid,
        passwdHome: this.environment.passwdHome,
        localHostname: this.environment.localHostname,
        exec: this.environment.exec,
        requestFinalPass: () => {
          if (!this.pass.final) this.pass.wantsFinalPass = true;
        },
      },
      where,
    );
    if (!outcome.ok) return fail(`${outcome.message} (Bad Match condition)`);
    activity.active = flags.neverMatch ? false : outcome.matched;
    if (outcome.rest !== null && outcome.rest !== '' && argumentCount > 0) return fail('keyword match extra arguments at end of line');
    return OK;
  }

  private async include(args: string[], flags: FileFlags, activity: Activity, depth: number): Promise<LineResult> {
    for (const arg of args) {
      if (arg === '') return fail('keyword include empty argument');
      if (arg.startsWith('~') && !flags.userConfig) return fail(`bad include path ${arg}.`);
      // Relative paths live in ~/.ssh for user configs and /etc/ssh for system ones.
      const pattern = arg.startsWith('/') || arg.startsWith('~') ? arg : `${flags.userConfig ? '~/.ssh' : '/etc/ssh'}/${arg}`;
      const paths = await globIncludePaths(pattern, this.environment.envHome, this.environment.passwdHome);
      const wasActive = activity.active;
      for (const path of paths) {
        const nested = { userConfig: flags.userConfig, checkPermissions: true, neverMatch: flags.neverMatch || !wasActive };
        const read = await this.readFile(path, nested, activity, depth + 1);
        if (!read.opened && read.code !== 'ENOENT') return fail(`Can't open user config file ${path}: ${read.code}`);
        // A Host or Match inside the included file must not leak into the including file.
        activity.active = wasActive;
      }
    }
    return OK;
  }
}
