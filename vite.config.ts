import { sveltekit } from '@sveltejs/kit/vite';
import tailwindcss from '@tailwindcss/vite';
import { defineConfig } from 'vite';

const api = `http://127.0.0.1:${process.env.PORT ?? 3000}`;

export default defineConfig({
  plugins: [tailwindcss(), sveltekit()],
  // `npm run dev:ui` proxies the API and sockets to a server started with `npm run dev`.
  server: { proxy: { '/api': api, '/socket.io': { target: api, ws: true } } },
});
