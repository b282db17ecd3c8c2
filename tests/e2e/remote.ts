import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * What tests/e2e/server.ts set up for remote-host tests, handed to the specs through a file
 * (the specs run in other processes than the web server). Keyed by the server's port so two
 * runs on one machine do not read each other's.
 */
export interface RemoteSetup {
  /** False when no sshd is installed here (outside CI: the remote specs skip). */
  available: boolean;
  /** The inventory host the specs use: environment `e2e`, host `box` (ssh alias `e2e-box`). */
  environment: string;
  host: string;
  alias: string;
  /** A file on the test sshd's machine that `tail -F` can follow; specs append to it. */
  logFile: string;
  /** Lines the log file starts with. */
  logLines: string[];
}

export function remoteSetupPath(port: number | string): string {
  return path.join(os.tmpdir(), `vmo-e2e-remote-${port}.json`);
}

/** Read by a spec, after the web server started (playwright.config.ts passes the same E2E_PORT to both). */
export function readRemoteSetup(): RemoteSetup {
  return JSON.parse(fs.readFileSync(remoteSetupPath(process.env.E2E_PORT ?? '3917'), 'utf8')) as RemoteSetup;
}
