/**
 * Stack traces of the compiled server name the .ts lines without `node --enable-source-maps`.
 * That flag parses, as each module loads, the source map of the bundle and of every package
 * that ships one: about 10 MB of heap for the bundle's map alone, and 5 MB more in the
 * screen worker for xterm.js's, held for the life of the process, for traces the server
 * rarely prints. Here the bundle's map is read the first time a trace goes through one
 * of its frames, and let go a minute after it was last used.
 */
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const RELEASE_AFTER_MS = 60_000;

/**
 * Formats every stack trace of this process with the frames of `bundleFile` (a path or a
 * file: URL of compiled JavaScript) mapped through `<bundleFile>.map`. Does nothing when
 * there is no map (the server runs from its .ts sources, whose frames need no mapping).
 */
export function mapStackTracesLazily(bundleFile: string): void {
  const file = bundleFile.startsWith('file:') ? fileURLToPath(bundleFile) : bundleFile;
  const mapFile = `${file}.map`;
  if (!fs.existsSync(mapFile)) return;
  const names = new Set([file, pathToFileURL(file).href]);
  const map = lazySourceMap(mapFile);

  Error.prepareStackTrace = (error: unknown, frames: NodeJS.CallSite[]) => {
    const lines = [errorHeading(error)];
    for (const frame of frames) lines.push(`    at ${mappedFrame(frame, names, map)}`);
    return lines.join('\n');
  };
}

/** A frame as V8 prints it, with a position in the bundle replaced by the .ts one. */
function mappedFrame(frame: NodeJS.CallSite, bundleNames: Set<string>, map: () => MapOf | null): string {
  const text = String(frame);
  const fileName = frame.getFileName();
  const line = frame.getLineNumber();
  const column = frame.getColumnNumber();
  if (!fileName || !bundleNames.has(fileName) || line === null || column === null) return text;
  const original = map()?.(line, column);
  if (!original) return text;
  const at = `${fileName}:${line}:${column}`;
  const i = text.lastIndexOf(at);
  return i < 0 ? text : `${text.slice(0, i)}${original}${text.slice(i + at.length)}`;
}

/** "Name: message", as V8 starts a trace (Error.prototype.toString's rules). */
function errorHeading(error: unknown): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return 'Error';
  }
}

/** Maps a 1-based line and column of the bundle to "file.ts:line:column". */
type MapOf = (line: number, column: number) => string | null;

/** The map, read on first use and dropped RELEASE_AFTER_MS after the last. */
function lazySourceMap(mapFile: string): () => MapOf | null {
  let mapOf: MapOf | null = null;
  let unreadable = false;
  let release: NodeJS.Timeout | null = null;
  const dir = path.dirname(mapFile);
  return () => {
    if (unreadable) return null;
    if (!mapOf) {
      let sourceMap: SourceMap;
      try {
        sourceMap = new SourceMap(JSON.parse(fs.readFileSync(mapFile, 'utf8')));
      } catch {
        unreadable = true; // a trace without .ts lines is better than none
        return null;
      }
      mapOf = (line, column) => {
        const entry = sourceMap.findEntry(line - 1, column - 1) as Partial<{ originalSource: string; originalLine: number; originalColumn: number }>;
        if (!entry.originalSource || entry.originalLine === undefined || entry.originalColumn === undefined) return null;
        return `${path.resolve(dir, entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
      };
    }
    if (release) release.refresh();
    else {
      release = setTimeout(() => {
        mapOf = null;
        release = null;
      }, RELEASE_AFTER_MS);
      release.unref();
    }
    return mapOf;
  };
}
