/**
 * The player's web app: `npm run build` (root) runs `vite build --config web/vite.config.ts` into
 * web/dist, which nginx serves (hashed names under /assets/ cached for a year, index.html
 * revalidated). The strict CSP (no inline scripts or styles) holds because nothing here inlines:
 * no module-preload polyfill, CSS always in files, no asset inlined as a data: script.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: 'public',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    sourcemap: false,
    reportCompressedSize: false,
  },
  test: {
    root,
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
