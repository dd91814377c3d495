// Bundles the call page's script (src/call/call-page-client.js, with JsSIP) into
// dist/page/call-page.js, the file telgate serves at /call/assets/call-page.js.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/call/call-page-client.js'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  outfile: 'dist/page/call-page.js',
  logLevel: 'warning',
});
