// Bundles the extension and vscode-languageclient into one file, dist/extension.js, so the
// .vsix needs no node_modules. `vscode` is the editor's own module.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/extension.ts'],
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  external: ['vscode'],
  outfile: 'dist/extension.js',
  sourcemap: true,
  minify: process.argv.includes('--minify'),
  logLevel: 'info',
});
