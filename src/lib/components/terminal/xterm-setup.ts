import type { ITheme, Terminal } from '@xterm/xterm';

/** Terminal colours per app theme. The light palette darkens yellow/cyan/white so text stays readable on white. */
/**
 * Programs pick colours for one background; some of them are unreadable on the other theme
 * (white on light, black on dark). xterm.js lightens or darkens such text until it reaches
 * WCAG AA contrast (4.5:1) against its background.
 */
export const MIN_CONTRAST_RATIO = 4.5;

export const TERMINAL_THEMES: Record<'light' | 'dark', ITheme> = {
  dark: {
    background: '#09090b',
    foreground: '#e4e4e7',
    cursor: '#e4e4e7',
    cursorAccent: '#09090b',
    selectionBackground: '#3f3f46',
    black: '#27272a',
    red: '#f87171',
    green: '#4ade80',
    yellow: '#facc15',
    blue: '#60a5fa',
    magenta: '#e879f9',
    cyan: '#22d3ee',
    white: '#d4d4d8',
    brightBlack: '#71717a',
    brightRed: '#fca5a5',
    brightGreen: '#86efac',
    brightYellow: '#fde047',
    brightBlue: '#93c5fd',
    brightMagenta: '#f0abfc',
    brightCyan: '#67e8f9',
    brightWhite: '#fafafa',
  },
  light: {
    background: '#fafafa',
    foreground: '#18181b',
    cursor: '#18181b',
    cursorAccent: '#fafafa',
    selectionBackground: '#d4d4d8',
    black: '#18181b',
    red: '#b91c1c',
    green: '#15803d',
    yellow: '#a16207',
    blue: '#1d4ed8',
    magenta: '#a21caf',
    cyan: '#0e7490',
    white: '#52525b',
    brightBlack: '#71717a',
    brightRed: '#dc2626',
    brightGreen: '#16a34a',
    brightYellow: '#ca8a04',
    brightBlue: '#2563eb',
    brightMagenta: '#c026d3',
    brightCyan: '#0891b2',
    brightWhite: '#27272a',
  },
};

export function consoleFont(): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue('--font-console').trim();
  return v || 'monospace';
}

/**
 * GPU rendering when the browser offers WebGL, else xterm's DOM renderer. Automated
 * browsers (navigator.webdriver) keep the DOM renderer so tests can read `.xterm-rows`.
 */
export async function tryWebgl(term: Terminal): Promise<boolean> {
  if (navigator.webdriver) return false;
  try {
    const { WebglAddon } = await import('@xterm/addon-webgl');
    const gl = new WebglAddon();
    gl.onContextLoss(() => gl.dispose());
    term.loadAddon(gl);
    return true;
  } catch {
    return false;
  }
}

/**
 * Copy and paste beside xterm's defaults: Ctrl+Shift+C copies the selection, Ctrl+C with a
 * selection copies instead of sending ^C, Ctrl+Shift+V lets the browser paste (xterm then
 * handles the paste event, bracketed when the program asked for it). `onFind` for Ctrl+Shift+F.
 */
export function clipboardKeys(term: Terminal, onFind?: () => void) {
  term.attachCustomKeyEventHandler((e) => {
    if (e.type !== 'keydown') return true;
    const ctrl = e.ctrlKey || e.metaKey;
    if (ctrl && e.shiftKey && e.code === 'KeyC') {
      e.preventDefault();
      if (term.hasSelection()) void navigator.clipboard?.writeText(term.getSelection());
      return false;
    }
    if (ctrl && !e.shiftKey && e.code === 'KeyC' && term.hasSelection()) {
      e.preventDefault();
      void navigator.clipboard?.writeText(term.getSelection());
      term.clearSelection();
      return false;
    }
    if (ctrl && e.shiftKey && e.code === 'KeyV') return false;
    if (ctrl && e.shiftKey && e.code === 'KeyF' && onFind) {
      e.preventDefault();
      onFind();
      return false;
    }
    return true;
  });
}
