/**
 * Commands for the remote side. sshd hands the command string to the user's login shell
 * (`$SHELL -c`), so everything here is one string; every value that came from a person is
 * single-quoted, and the quoting avoids backslashes so it reads the same in sh, bash, zsh
 * and fish.
 */

/** POSIX single quotes; an embedded ' becomes '"'"'. */
export function shQuote(value: string): string {
  if (value.includes('\0')) throw new Error('a NUL byte cannot be passed to a remote shell');
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/**
 * Wraps `command` so that closing our end of the channel's stdin stops it on the host.
 * Closing a non-PTY exec channel does not stop `tail -F` or `journalctl -f` (sshd just
 * closes their pipes, and they only notice on their next write — maybe never), and
 * `signal` requests are refused by many sshd versions. So the command runs in the
 * background in a process group of its own (setsid; without it only the direct child is
 * signalled), and a watcher reads stdin: at EOF it sends TERM to the group, then KILL.
 * The command's own exit status is passed through.
 */
export function cancellableCommand(command: string, killGraceSeconds = 3): string {
  const script = [
    // A background list reads /dev/null unless told otherwise (job control is off): the
    // watcher gets the channel's stdin through fd 3.
    'exec 3<&0;',
    'if command -v setsid >/dev/null 2>&1; then setsid sh -c "$1" </dev/null & p=$!; g=-$p;',
    'else sh -c "$1" </dev/null & p=$!; g=$p; fi;',
    `( cat <&3 >/dev/null; kill -TERM $g 2>/dev/null || kill -TERM $p 2>/dev/null; sleep ${killGraceSeconds}; kill -KILL $g 2>/dev/null ) >/dev/null 2>&1 &`,
    'exec 3<&-; w=$!; wait $p; s=$?; kill $w 2>/dev/null; exit $s',
  ].join(' ');
  return `exec sh -c ${shQuote(script)} vmo-remote ${shQuote(command)}`;
}
