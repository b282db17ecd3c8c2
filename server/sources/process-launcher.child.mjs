// The process launcher's helper (see process-launcher.ts): starts job processes for the
// server. Each request names two FIFOs the server already reads; they become the
// process's stdout and stderr. Replies: started (with the pid), then exit; or error.
import { spawn } from 'node:child_process';
import fs from 'node:fs';

process.on('message', (req) => {
  const fds = [];
  try {
    fds.push(fs.openSync(req.stdout, fs.constants.O_WRONLY), fs.openSync(req.stderr, fs.constants.O_WRONLY));
    const child = spawn(req.argv[0], req.argv.slice(1), {
      cwd: req.cwd,
      env: req.env,
      detached: true,
      stdio: ['ignore', fds[0], fds[1]],
    });
    // A start that fails (no such program, a missing cwd) reports here, and no exit follows.
    child.once('error', (err) => reply({ id: req.id, type: 'error', message: err.message, code: err.code }));
    child.once('exit', (code, signal) => reply({ id: req.id, type: 'exit', code, signal }));
    if (child.pid) reply({ id: req.id, type: 'started', pid: child.pid });
  } catch (err) {
    reply({ id: req.id, type: 'error', message: err.message, code: err.code });
  } finally {
    // The child has its own copies; the server's reads end when the child's are closed.
    for (const fd of fds) fs.closeSync(fd);
  }
});

function reply(message) {
  if (process.connected) process.send(message);
}

// Requests are read from here on (see the launcher's 'ready').
process.send({ type: 'ready' });

// The server stopped or closed the channel: nothing is left to report to.
process.on('disconnect', () => process.exit(0));
