// Builds native/original-dst.c into build/original-dst.node with the system C
// compiler and the Node-API headers from the node-api-headers package: no
// node-gyp, no Python, nothing downloaded. Run by `npm run build`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'native', 'original-dst.c');
const output = join(root, 'build', 'original-dst.node');
const headers = join(dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include');
const fresh = (() => {
  try {
    return statSync(output).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    return false;
  }
})();
if (!fresh) {
  mkdirSync(dirname(output), { recursive: true });
  const cc = process.env.CC || 'cc';
  try {
    execFileSync(cc, ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-DNAPI_VERSION=8', `-I${headers}`, '-o', output, source], { stdio: 'inherit' });
  } catch (error) {
    console.error(`build-native: ${cc} failed (${error.message}); install a C compiler (apt-get install gcc libc6-dev) and run npm run build again`);
    process.exit(1);
  }
}
