import { EVENT_ALIAS, EVENT_MAPPING, EVENT_POP, EVENT_SCALAR, EVENT_SEQUENCE, load, parseEvents } from 'js-yaml';
import { INVENTORY_NAME, type EnvironmentError } from '../../src/lib/shared/inventory.ts';

/** One host of a vm-config environment, as config.yml states it. */
export interface ParsedHost {
  name: string;
  host: string;
  /** `ansible_user`; null means "as the ssh config says, else ubuntu". */
  user: string | null;
  /** `port`; null means "as the ssh config says, else 22". */
  port: number | null;
  vars: Record<string, unknown>;
}

export interface ParsedEnvironment {
  name: string;
  /** config.yml relative to the environments folder, for messages. */
  file: string;
  template: string | null;
  hosts: ParsedHost[];
  /** Set when the file cannot be used as a whole; `hosts` is then empty. */
  error?: EnvironmentError;
}

/** Keys of a host entry that the console reads itself; the rest are kept as vars for display. */
const HOST_KEYS = new Set(['host', 'ansible_host', 'ansible_user', 'port', 'ansible_port']);

/**
 * Parses one environment's config.yml (the vm-config format):
 *
 *     template: ubuntu-22.04
 *     vms:
 *       web-1: { host: 10.0.0.5, ansible_user: deploy, port: 2222 }
 *
 * A file with any problem is refused as a whole, with the first problem's line: keeping half
 * of a file would make the hosts of a mistyped entry vanish from every list, and the
 * console keeps the last good read of a broken file instead (see InventoryService).
 */
export function parseEnvironment(name: string, text: string, file: string): ParsedEnvironment {
  const env: ParsedEnvironment = { name, file, template: null, hosts: [] };
  const fail = (message: string, line?: number): ParsedEnvironment => ({ ...env, hosts: [], error: { file, line, message } });
  if (!INVENTORY_NAME.test(name)) {
    return fail('the folder name must use letters, digits, _ . - (1-64 characters)');
  }
  let doc: unknown;
  try {
    doc = load(text, { filename: file });
  } catch (err) {
    const e = err as { reason?: string; mark?: { line?: number }; message: string };
    return fail(`invalid YAML: ${e.reason ?? e.message}`, e.mark?.line !== undefined ? e.mark.line + 1 : undefined);
  }
  if (doc === undefined || doc === null) return fail('the file is empty; expected `template:` and `vms:`');
  if (!isMap(doc)) return fail('expected a mapping with `template:` and `vms:` at the top level', 1);

  const problems: Array<{ message: string; line?: number }> = [];
  const problem = (message: string, path: string[]) => problems.push({ message, line: lineOfPath(text, path) });

  if (doc.template !== undefined && doc.template !== null) {
    if (typeof doc.template !== 'string') problem('`template` must be a string', ['template']);
    else env.template = doc.template;
  }
  const vms = doc.vms;
  if (vms !== undefined && vms !== null && !isMap(vms)) problem('`vms` must be a mapping of name: { host, ansible_user, port }', ['vms']);
  for (const [vmName, raw] of Object.entries(isMap(vms) ? vms : {})) {
    const at = ['vms', vmName];
    if (!INVENTORY_NAME.test(vmName)) {
      problem(`host name "${vmName}" must use letters, digits, _ . - (1-64 characters)`, at);
      continue;
    }
    if (!isMap(raw)) {
      problem(`vms.${vmName} must be a mapping with at least \`host\``, at);
      continue;
    }
    const hostKey = raw.host !== undefined ? 'host' : 'ansible_host';
    const host = scalarString(raw[hostKey]);
    if (!host) {
      problem(`vms.${vmName}: \`host\` is required (an address, a DNS name or an ssh config alias)`, at);
      continue;
    }
    if (/\s|^-/.test(host)) {
      // A leading dash would read as an option to anything that takes a host argument.
      problem(`vms.${vmName}.${hostKey}: "${host}" is not a host name`, [...at, hostKey]);
      continue;
    }
    const userRaw = raw.ansible_user;
    let user: string | null = null;
    if (userRaw !== undefined && userRaw !== null) {
      user = scalarString(userRaw);
      if (!user || !/^[a-zA-Z0-9_.][a-zA-Z0-9_.@-]{0,63}$/.test(user)) {
        problem(`vms.${vmName}.ansible_user: "${String(userRaw)}" is not a user name`, [...at, 'ansible_user']);
        continue;
      }
    }
    const portKey = raw.port !== undefined ? 'port' : 'ansible_port';
    const portRaw = raw[portKey];
    let port: number | null = null;
    if (portRaw !== undefined && portRaw !== null) {
      port = Number(portRaw);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        problem(`vms.${vmName}.${portKey}: "${String(portRaw)}" is not a port (1-65535)`, [...at, portKey]);
        continue;
      }
    }
    const vars = Object.fromEntries(Object.entries(raw).filter(([k]) => !HOST_KEYS.has(k)));
    env.hosts.push({ name: vmName, host, user, port, vars });
  }
  if (problems.length) {
    const [first] = problems;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    return fail(first.message + more, first.line);
  }
  return env;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Strings and numbers as written (YAML reads 10.0.0.5 as a string, 2222 as a number). */
function scalarString(v: unknown): string | null {
  if (typeof v === 'string') return v.trim() || null;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/**
 * The 1-based line of a key path (`['vms', 'web-1', 'port']`), from the parser's event
 * offsets (the loaded values keep no positions). Falls back to the deepest key found.
 */
export function lineOfPath(text: string, path: string[]): number | undefined {
  const offsets = keyOffsets(text);
  for (let n = path.length; n > 0; n--) {
    const at = offsets.get(path.slice(0, n).join('\0'));
    if (at !== undefined) return text.slice(0, at).split('\n').length;
  }
  return undefined;
}

/** Offset of every mapping key in the first document, by its key path joined with NUL. */
function keyOffsets(text: string): Map<string, number> {
  const found = new Map<string, number>();
  // One frame per open collection: its path, and for a mapping whether the next scalar is a key.
  const stack: Array<{ path: string[]; mapping: boolean; expectKey: boolean; key?: string }> = [];
  const child = () => {
    const top = stack[stack.length - 1];
    if (!top) return [];
    if (!top.mapping) return top.path;
    return top.key === undefined ? top.path : [...top.path, top.key];
  };
  const afterValue = () => {
    const top = stack[stack.length - 1];
    if (top?.mapping) top.expectKey = true;
  };
  for (const ev of parseEvents(text, {}) as unknown as Iterable<{ type: number; valueStart?: number; valueEnd?: number }>) {
    if (ev.type === EVENT_MAPPING || ev.type === EVENT_SEQUENCE) {
      stack.push({ path: child(), mapping: ev.type === EVENT_MAPPING, expectKey: true });
    } else if (ev.type === EVENT_POP) {
      stack.pop();
      afterValue();
    } else if (ev.type === EVENT_SCALAR || ev.type === EVENT_ALIAS) {
      const top = stack[stack.length - 1];
      if (top?.mapping && top.expectKey && ev.valueStart !== undefined) {
        top.key = text.slice(ev.valueStart, ev.valueEnd).replace(/^["']|["']$/g, '');
        top.expectKey = false;
        found.set([...top.path, top.key].join('\0'), ev.valueStart);
      } else {
        afterValue();
      }
    }
  }
  return found;
}
