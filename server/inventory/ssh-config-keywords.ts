/**
 * Every keyword OpenSSH 9.2's client knows, as packaged by Debian (which adds the
 * GSSAPI key-exchange options and the ProtocolKeepAlives/SetupTimeOut aliases), with the
 * argument shape ssh checks. Keywords the resolver models are dispatched by `option`;
 * the others are only validated, so that a file ssh rejects is rejected here too.
 */
import type { AlgorithmKind } from './ssh-config-algorithms.ts';
import { CANONICALIZE_HOSTNAME, FLAG, STRICT_HOST_KEY, YES_NO_ASK, type Multistate } from './ssh-config-values.ts';

export type Arity = 'one' | 'one-or-two' | 'two' | 'many' | 'rest';

export interface KeywordSpec {
  /** Canonical lowercase name; aliases map to the option they set. */
  option: string;
  arity: Arity;
  /** How a single value is checked: a word table, a time spec, an integer, or an agent path. */
  check?: Multistate | 'time' | 'int' | 'agent-path';
  /** The value is an algorithm list of this kind. */
  algorithms?: AlgorithmKind;
  /** Keywords ssh accepts but ignores (silently, or with a message). */
  disposition?: 'ignored' | 'deprecated' | 'unsupported';
}

const PUBKEY_AUTH: Multistate = { ...FLAG, unbound: 2, 'host-bound': 3 };
const COMPRESSION: Multistate = { yes: 1, no: 0 };
export const ADDRESS_FAMILY: Multistate = { inet: 4, inet6: 6, any: 0 };
const CONTROL_MASTER: Multistate = { ...FLAG, auto: 2, ask: 3, autoask: 4 };
const TUNNEL: Multistate = { ethernet: 2, 'point-to-point': 1, ...FLAG };
const REQUEST_TTY: Multistate = { ...FLAG, force: 3, auto: 2 };
const SESSION_TYPE: Multistate = { none: 0, subsystem: 1, default: 2 };

const table = new Map<string, KeywordSpec>();

function define(names: string[], spec: Omit<KeywordSpec, 'option'> & { option?: string }): void {
  for (const name of names) table.set(name, { option: spec.option ?? name, ...spec });
}

define(['protocol'], { arity: 'rest', disposition: 'ignored' });
define(['cipher', 'fallbacktorsh', 'globalknownhostsfile2', 'rhostsauthentication', 'userknownhostsfile2', 'useroaming', 'usersh', 'useprivilegedport'], {
  arity: 'rest',
  disposition: 'deprecated',
});
define(['afstokenpassing', 'kerberosauthentication', 'kerberostgtpassing', 'rsaauthentication', 'rhostsrsaauthentication', 'compressionlevel'], {
  arity: 'rest',
  disposition: 'unsupported',
});

define(
  [
    'gssapiauthentication', 'gssapidelegatecredentials', 'gssapikeyexchange', 'gssapirenewalforcesrekey', 'gssapitrustdns',
    'forwardx11', 'forwardx11trusted', 'exitonforwardfailure', 'gatewayports', 'passwordauthentication', 'hostbasedauthentication',
    'batchmode', 'checkhostip', 'nohostauthenticationforlocalhost', 'clearallforwardings', 'enablesshkeysign', 'hashknownhosts',
    'permitlocalcommand', 'visualhostkey', 'stdinnull', 'forkafterauthentication', 'proxyusefdpass', 'streamlocalbindunlink',
    'enableescapecommandline', 'identitiesonly', 'canonicalizefallbacklocal',
  ],
  { arity: 'one', check: FLAG },
);
define(['kbdinteractiveauthentication', 'challengeresponseauthentication', 'skeyauthentication', 'tisauthentication'], {
  option: 'kbdinteractiveauthentication',
  arity: 'one',
  check: FLAG,
});
define(['tcpkeepalive', 'keepalive'], { option: 'tcpkeepalive', arity: 'one', check: FLAG });
define(['pubkeyauthentication', 'dsaauthentication'], { option: 'pubkeyauthentication', arity: 'one', check: PUBKEY_AUTH });
define(['verifyhostkeydns', 'updatehostkeys'], { arity: 'one', check: YES_NO_ASK });
define(['compression'], { arity: 'one', check: COMPRESSION });
define(['addressfamily'], { arity: 'one', check: ADDRESS_FAMILY });
define(['controlmaster'], { arity: 'one', check: CONTROL_MASTER });
define(['tunnel'], { arity: 'one', check: TUNNEL });
define(['requesttty'], { arity: 'one', check: REQUEST_TTY });
define(['sessiontype'], { arity: 'one', check: SESSION_TYPE });
define(['stricthostkeychecking'], { arity: 'one', check: STRICT_HOST_KEY });
define(['canonicalizehostname'], { arity: 'one', check: CANONICALIZE_HOSTNAME });

define(['forwardx11timeout', 'connecttimeout'], { arity: 'one', check: 'time' });
// Debian's ProtocolKeepAlives and SetupTimeOut both set ServerAliveInterval.
define(['serveraliveinterval', 'protocolkeepalives', 'setuptimeout'], { option: 'serveraliveinterval', arity: 'one', check: 'time' });
define(['connectionattempts', 'numberofpasswordprompts', 'serveralivecountmax', 'canonicalizemaxdots', 'requiredrsasize'], {
  arity: 'one',
  check: 'int',
});
define(['forwardagent'], { arity: 'one', check: 'agent-path' });

define(
  [
    'gssapiclientidentity', 'gssapiserveridentity', 'gssapikexalgorithms', 'xauthlocation', 'kbdinteractivedevices',
    'certificatefile', 'identityagent', 'hostname', 'hostkeyalias', 'port', 'user', 'escapechar',
    'syslogfacility', 'loglevel', 'dynamicforward', 'preferredauthentications',
    'bindaddress', 'bindinterface', 'controlpath', 'controlpersist', 'tunneldevice', 'streamlocalbindmask',
    'revokedhostkeys', 'fingerprinthash', 'ignoreunknown', 'securitykeyprovider',
  ],
  { arity: 'one' },
);
define(['pkcs11provider', 'smartcarddevice'], { option: 'pkcs11provider', arity: 'one' });
define(['identityfile', 'identityfile2'], { option: 'identityfile', arity: 'one' });
define(['ciphers'], { arity: 'one', algorithms: 'ciphers' });
define(['macs'], { arity: 'one', algorithms: 'macs' });
define(['kexalgorithms'], { arity: 'one', algorithms: 'kex' });
define(['hostkeyalgorithms', 'casignaturealgorithms'], { arity: 'one', algorithms: 'key-types' });
define(['hostbasedacceptedalgorithms', 'hostbasedkeytypes'], { option: 'hostbasedacceptedalgorithms', arity: 'one', algorithms: 'key-types' });
define(['pubkeyacceptedalgorithms', 'pubkeyacceptedkeytypes'], { option: 'pubkeyacceptedalgorithms', arity: 'one', algorithms: 'key-types' });

define(['remoteforward', 'rekeylimit', 'ipqos', 'addkeystoagent'], { arity: 'one-or-two' });
define(['localforward'], { arity: 'two' });
define(
  ['host', 'include', 'globalknownhostsfile', 'userknownhostsfile', 'sendenv', 'setenv', 'logverbose', 'permitremoteopen', 'canonicaldomains', 'canonicalizepermittedcnames'],
  { arity: 'many' },
);
define(['match', 'proxycommand', 'proxyjump', 'localcommand', 'remotecommand', 'knownhostscommand'], { arity: 'rest' });

/** The keyword's spec (keyword already lowercased), or undefined for one ssh does not know. */
export function lookupKeyword(keyword: string): KeywordSpec | undefined {
  return table.get(keyword);
}
