/**
 * Runs inside the benchmark's Chromium tabs (bench/browser-terminal.ts adds it with
 * page.addInitScript, before the page's own scripts): reads what a terminal page shows and
 * times a command until its last line is on screen. Plain browser JavaScript on purpose:
 * Playwright sends it as it is, while tsx would rewrite functions defined in TypeScript
 * with a `__name` helper that pages do not have.
 */
(() => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));

  /** The xterm.js renderer drawing the page's terminal: DOM rows, or a WebGL canvas. */
  const renderer = () => {
    if (document.querySelector('.xterm-rows')?.childElementCount) return 'DOM';
    if (document.querySelector('.xterm-screen canvas')) return 'WebGL';
    return 'none';
  };

  /**
   * The text of the terminal's visible rows. The DOM renderer's rows are the screen itself;
   * a canvas has no text, so then the rows come from the xterm.js buffer's viewport, through
   * the Terminal object the page keeps in `window[termGlobal]`.
   */
  const screenLines = (termGlobal) => {
    const rows = document.querySelector('.xterm-rows');
    if (rows?.childElementCount) {
      return Array.from(rows.children, (row) => (row.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd());
    }
    const term = termGlobal ? window[termGlobal] : undefined;
    if (!term) throw new Error('the terminal is drawn on a canvas and the page exposes no Terminal object to read it from');
    const buffer = term.buffer.active;
    const lines = [];
    for (let y = buffer.viewportY; y < buffer.viewportY + term.rows; y++) lines.push(buffer.getLine(y)?.translateToString(true) ?? '');
    return lines;
  };

  /**
   * Arms the timer: from the next Enter keydown (the moment the page gets the keypress)
   * until a whole row of the screen reads `marker`, plus two animation frames so that the
   * frame showing it has been drawn. `done` resolves to the milliseconds between.
   */
  const arm = (marker, termGlobal) => {
    const pressed = new Promise((resolve) => {
      const onKey = (e) => {
        if (e.key !== 'Enter') return;
        window.removeEventListener('keydown', onKey, true);
        resolve(performance.now());
      };
      window.addEventListener('keydown', onKey, true);
    });
    probe.done = (async () => {
      const t0 = await pressed;
      while (!screenLines(termGlobal).some((line) => line.trim() === marker)) await frame();
      await frame();
      await frame();
      return performance.now() - t0;
    })();
  };

  const probe = { renderer, screenLines, arm, done: null };
  window.vmoBenchProbe = probe;
})();
