// Optionally bundles the self-harness binary into the .vsix (bin/self-harness), where the
// extension looks after the selfHarness.serverPath setting and before PATH.
//   SELF_HARNESS_BUNDLE_SERVER=../target/release/self-harness npm run package
// Without the variable, bin/ is emptied so that a stale binary never ships.
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const bin = resolve('bin');
rmSync(bin, { recursive: true, force: true });
const source = process.env.SELF_HARNESS_BUNDLE_SERVER;
if (!source) {
  console.log('bundle-server: no SELF_HARNESS_BUNDLE_SERVER; the extension will use selfHarness.serverPath or PATH');
  process.exit(0);
}
if (!existsSync(source) || !statSync(source).isFile()) {
  console.error(`bundle-server: SELF_HARNESS_BUNDLE_SERVER=${source} is not a file (build it: cargo build --release --bin self-harness)`);
  process.exit(1);
}
mkdirSync(bin, { recursive: true });
const target = join(bin, process.platform === 'win32' ? 'self-harness.exe' : 'self-harness');
copyFileSync(source, target);
chmodSync(target, 0o755);
console.log(`bundle-server: ${source} -> ${target} (${(statSync(target).size / 1e6).toFixed(1)} MB)`);
