import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // The build is mounted into our Express server as a handler (build/handler.js).
    adapter: adapter({ out: 'build' }),
    alias: { $shared: 'src/lib/shared' },
    // Every page is served with this policy and a fresh nonce for SvelteKit's boot script and
    // the theme script in app.html. Styles stay inline-able: Svelte transitions, bits-ui
    // positioning and xterm.js write style attributes and <style> elements. Sockets are
    // same-origin ('self' covers ws: and wss: on the page's own host).
    csp: {
      mode: 'nonce',
      directives: {
        'default-src': ['self'],
        'script-src': ['self'],
        'style-src': ['self', 'unsafe-inline'],
        'img-src': ['self', 'data:', 'blob:'],
        'font-src': ['self', 'data:'],
        'connect-src': ['self'],
        'worker-src': ['self', 'blob:'],
        'object-src': ['none'],
        'base-uri': ['self'],
        'form-action': ['self'],
        'frame-ancestors': ['none'],
      },
    },
  },
};

export default config;
