import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // The build is mounted into our Express server as a handler (build/handler.js).
    adapter: adapter({ out: 'build' }),
    alias: { $shared: 'src/lib/shared' },
  },
};

export default config;
