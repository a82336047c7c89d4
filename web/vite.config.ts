// The tenant web app's build: web/ → web/dist, served by the API under /app (api/web-app/index.ts).
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/app/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The page's policy allows scripts from this origin only: no inline polyfill.
    modulePreload: { polyfill: false },
    // Every asset a file of its own: no data: URLs the policy would have to allow.
    assetsInlineLimit: 0,
  },
});
