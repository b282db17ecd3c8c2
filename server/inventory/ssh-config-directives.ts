/**
 * The option directives of ssh_config (everything but Host, Match and Include): checking
 * each value the way readconf.c does — even on lines that do not apply, since ssh refuses
 * a bad value anywhere in a file — and storing it when the line applies and the option is
 * still unset.
 */
import { isAcceptedAlgorithmList } from './ssh-config-algorithms.ts';
import { ExpansionError, expand, type Environment } from './ssh-config-expand.ts';
import { parseJumpDirective } from './ssh-config-jump.ts';
import { ADDRESS_FAMILY, type KeywordSpec } from './ssh-config-keywords.ts';
import { asciiLower, stripLeadingSeparators } from './ssh-config-lexer.ts';
import type { ConfigOptions } from './ssh-config-options.ts';
import {
  CANONICALIZE_HOSTNAME, FLAG, STRICT_HOST_KEY, isValidEnvName, parseInteger, parseMultistate, parsePort, parseTime, type Multistate,
} from './ssh-config-values.ts';

export type LineResult = { ok: true } | { ok: false; message: string };

export const OK: LineResult = { ok: true };
export const fail = (message: string): LineResult => ({ ok: false, message });

export interface DirectiveContext {
  options: ConfigOptions;
  /** Whether the line applies (inside a Host/Match block that matched). */
  active: boolean;
  /** "file:line", recorded as the source of what the line sets. */
  where: string;
  /** The line comes from a user config (affects IdentityFile duplicate merging). */
  userConfig: boolean;
  env: Environment;
}

/** One option directive, already lexed: `rest` is the raw remainder, `args` its arguments. */
export function applyDirective(spec: KeywordSpec, rest: string, args: string[], c: DirectiveContext): LineResult {
  if (spec.option === 'proxycommand') return proxyCommand(stripLeadingSeparators(rest), c);
  if (spec.option === 'proxyjump') return proxyJump(stripLeadingSeparators(rest), c);
  // LocalCommand, RemoteCommand, KnownHostsCommand: the rest of the line, taken as is.
  if (spec.arity === 'rest') return OK;
  const counted = checkArity(spec, args);
  if (counted) return counted;
  if (spec.arity === 'many') return list(spec.option, args, c);
  if (spec.arity !== 'one') return OK;
  return single(spec, args[0], c);
}

/** Argument count errors, in ssh's wording. */
function checkArity(spec: KeywordSpec, args: string[]): LineResult | null {
  if (spec.arity === 'many') return null;
  if (args.length === 0 || args[0] === '') return fail('Missing argument.');
  if (spec.arity === 'two' && (args.length < 2 || args[1] === '')) return fail('Missing target argument.');
  if (args.length > (spec.arity === 'one' ? 1 : 2)) return fail(`keyword ${spec.option} extra arguments at end of line`);
  return null;
}

/** ProxyCommand is the raw rest of the line, quotes and comments included. */
function proxyCommand(value: string, c: DirectiveContext): LineResult {
  if (c.active && c.options.proxyCommand === null) {
    c.options.proxyCommand = value;
    c.options.sources.proxyCommand = c.where;
  }
  return OK;
}

function proxyJump(value: string, c: DirectiveContext): LineResult {
  const o = c.options;
  const parsed = parseJumpDirective(value);
  if (!parsed) return fail(`Invalid ProxyJump "${value}"`);
  if (parsed.kind === 'none') {
    // Debian's client (with 10.x's parse_jump) lets `ProxyJump none` coexist with a ProxyCommand.
    if (c.active && o.jump === null) {
      o.jump = { specs: ['none'], host: 'none', user: null, port: 0 };
      o.sources.proxyJump = c.where;
    }
    return OK;
  }
  // Whichever of ProxyCommand and ProxyJump comes first wins; a jump blocks later ProxyCommands by setting it to none.
  if (c.active && o.proxyCommand === null && o.jump === null) {
    o.jump = { specs: parsed.specs, host: parsed.last.host, user: parsed.last.user ?? null, port: parsed.last.port ?? -1 };
    o.proxyCommand = 'none';
    o.sources.proxyJump = c.where;
  }
  return OK;
}

/** Keywords taking several arguments. */
function list(option: string, args: string[], c: DirectiveContext): LineResult {
  const o = c.options;
  const noneAlone = (): LineResult | null => {
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '') return fail(`keyword ${option} empty argument`);
      if (asciiLower(args[i]) === 'none' && (i > 0 || args.length > 1)) return fail(`keyword ${option} "none" argument must appear alone.`);
    }
    return null;
  };
  switch (option) {
    case 'userknownhostsfile':
    case 'globalknownhostsfile': {
      const bad = noneAlone();
      if (bad) return bad;
      const target = option === 'userknownhostsfile' ? o.userKnownHostsFiles : o.globalKnownHostsFiles;
      // Not cumulative: only the first line that applies fills the list.
      if (c.active && target.length === 0 && args.length > 0) {
        target.push(...args);
        o.sources[option === 'userknownhostsfile' ? 'userKnownHostsFiles' : 'globalKnownHostsFiles'] = c.where;
      }
      return OK;
    }
    case 'canonicaldomains': {
      const bad = noneAlone();
      if (bad) return bad;
      const domains: string[] = [];
      for (const arg of args) {
        const domain = asciiLower(arg);
        if (!/^[a-z0-9]/.test(domain) || domain.includes('..') || !/^[a-z0-9._-]+$/.test(domain)) return fail(`domain name "${arg}" is invalid`);
        domains.push(domain.endsWith('.') ? domain.slice(0, -1) : domain);
      }
      if (c.active && o.canonicalDomains.length === 0) o.canonicalDomains.push(...domains);
      return OK;
    }
    case 'canonicalizepermittedcnames': {
      const rules: string[] = [];
      for (let i = 0; i < args.length; i++) {
        const arg = args[i];
        if (asciiLower(arg) === 'none') {
          if (i > 0 || args.length > 1) return fail(`keyword ${option} "none" argument must appear alone.`);
          continue;
        }
        const colon = arg.indexOf(':');
        if (arg !== '*' && (colon < 0 || colon === arg.length - 1)) return fail(`Invalid permitted CNAME "${arg}"`);
        rules.push(arg);
      }
      if (c.active && o.permittedCnames.length === 0) o.permittedCnames.push(...(rules.length > 0 ? rules : ['none']));
      return OK;
    }
    default:
      return OK;
  }
}

/** Keywords taking exactly one argument. */
function single(spec: KeywordSpec, arg: string, c: DirectiveContext): LineResult {
  const o = c.options;
  const set = <K extends keyof ConfigOptions>(key: K, value: ConfigOptions[K], field: string = key) => {
    if (c.active && o[key] === null) {
      o[key] = value;
      o.sources[field] = c.where;
    }
  };
  const word = (table: Multistate): number | null => parseMultistate(arg, table);

  switch (spec.option) {
    case 'user':
      set('user', arg);
      return OK;
    case 'hostname':
      set('hostname', arg);
      return OK;
    case 'hostkeyalias':
      set('hostKeyAlias', arg);
      return OK;
    case 'hostkeyalgorithms':
      if (!isAcceptedAlgorithmList(arg, 'key-types')) return fail(`Bad key types '${arg}'.`);
      set('hostKeyAlgorithms', arg);
      return OK;
    case 'ignoreunknown':
      if (c.active && o.ignoredUnknown === null) o.ignoredUnknown = arg;
      return OK;
    case 'port': {
      const port = parsePort(arg);
      if (port === null) return fail(`Bad port '${arg}'.`);
      set('port', port);
      return OK;
    }
    case 'identityfile':
      if (c.active) {
        // Exact duplicates from the same kind of file (user or system) are listed once.
        if (!o.identityFiles.some((f) => f.path === arg && f.userProvided === c.userConfig)) o.identityFiles.push({ path: arg, userProvided: c.userConfig });
        o.sources.identityFiles ??= c.where;
      }
      return OK;
    case 'identityagent':
      return agentPath(arg, c.env, () => set('identityAgent', arg));
    case 'forwardagent':
      return parseMultistate(arg, FLAG) !== null ? OK : agentPath(arg, c.env, () => undefined);
    case 'identitiesonly': {
      const v = word(FLAG);
      if (v === null) return fail(`unsupported option "${arg}".`);
      set('identitiesOnly', v === 1);
      return OK;
    }
    case 'stricthostkeychecking': {
      const v = word(STRICT_HOST_KEY);
      if (v === null) return fail(`unsupported option "${arg}".`);
      set('strictHostKeyChecking', v);
      return OK;
    }
    case 'canonicalizehostname': {
      const v = word(CANONICALIZE_HOSTNAME);
      if (v === null) return fail(`unsupported option "${arg}".`);
      set('canonicalizeHostname', v);
      return OK;
    }
    case 'canonicalizefallbacklocal': {
      const v = word(FLAG);
      if (v === null) return fail(`unsupported option "${arg}".`);
      set('canonicalizeFallbackLocal', v === 1);
      return OK;
    }
    case 'addressfamily': {
      const v = word(ADDRESS_FAMILY);
      if (v === null) return fail(`unsupported option "${arg}".`);
      set('addressFamily', v);
      return OK;
    }
    case 'connecttimeout':
    case 'serveraliveinterval': {
      // "none" means unset, so a later line can still set the value.
      const seconds = arg === 'none' ? null : parseTime(arg);
      if (seconds === null && arg !== 'none') return fail('invalid time value.');
      if (seconds !== null) set(spec.option === 'connecttimeout' ? 'connectTimeout' : 'serverAliveInterval', seconds);
      return OK;
    }
    case 'serveralivecountmax':
    case 'canonicalizemaxdots': {
      const n = parseInteger(arg);
      if (n === null) return fail('integer value invalid.');
      set(spec.option === 'serveralivecountmax' ? 'serverAliveCountMax' : 'canonicalizeMaxDots', n);
      return OK;
    }
  }
  return validateOnly(spec, arg);
}

/** Options the resolver does not model: only refuse what ssh refuses. */
function validateOnly(spec: KeywordSpec, arg: string): LineResult {
  if (spec.algorithms) return isAcceptedAlgorithmList(arg, spec.algorithms) ? OK : fail(`Bad ${spec.option} '${arg}'.`);
  const check = spec.check;
  if (check === undefined || check === 'agent-path') return OK;
  if (check === 'time') return arg === 'none' || parseTime(arg) !== null ? OK : fail('invalid time value.');
  if (check === 'int') return parseInteger(arg) !== null ? OK : fail('integer value invalid.');
  return parseMultistate(arg, check) !== null ? OK : fail(`unsupported option "${arg}".`);
}

/** IdentityAgent/ForwardAgent paths: ${VAR} must be set now, and a legacy $VAR must be a valid name. */
function agentPath(arg: string, env: Environment, store: () => void): LineResult {
  try {
    expand(arg, null, env);
  } catch (err) {
    if (err instanceof ExpansionError) return fail(`Invalid environment expansion ${arg}.`);
    throw err;
  }
  if (arg.startsWith('$') && arg[1] !== '{' && !isValidEnvName(arg.slice(1))) return fail(`Invalid environment name ${arg}.`);
  store();
  return OK;
}
