// Builds native/original-dst.c into build/original-dst.node with the system C
// compiler and the Node-API headers from the node-api-headers package: no
// node-gyp, no Python, nothing downloaded. Run by `npm run build`.
//
// A stamp beside the output (build/original-dst.stamp) records what it was
// built for: platform, arch, Node-API version and the source's sha256. The
// addon is rebuilt whenever the stamp differs (a tree copied from another
// machine, an edited source), not by mtime, which a checkout or copy resets.
// Warnings fail the build only in CI (CI set), so a newer compiler's new
// warning does not stop an operator's install.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NAPI_VERSION = 8;
const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'native', 'original-dst.c');
const output = join(root, 'build', 'original-dst.node');
const stampFile = join(root, 'build', 'original-dst.stamp');
const headers = join(dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include');
const stamp = `${process.platform}-${process.arch}-napi${NAPI_VERSION} ${createHash('sha256').update(readFileSync(source)).digest('hex')}\n`;
const fresh = (() => {
  try {
    return existsSync(output) && readFileSync(stampFile, 'utf8') === stamp;
  } catch {
    return false;
  }
})();
if (!fresh) {
  mkdirSync(dirname(output), { recursive: true });
  const cc = process.env.CC || 'cc';
  const werror = process.env.CI ? ['-Werror'] : [];
  try {
    execFileSync(cc, ['-O2', '-Wall', ...werror, '-shared', '-fPIC', `-DNAPI_VERSION=${NAPI_VERSION}`, `-I${headers}`, '-o', output, source], { stdio: 'inherit' });
  } catch (error) {
    console.error(`build-native: ${cc} failed (${error.message}); install a C compiler (apt-get install gcc libc6-dev) and run npm run build again`);
    process.exit(1);
  }
  writeFileSync(stampFile, stamp);
}
