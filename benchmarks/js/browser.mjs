// What the browser benchmarks share: examples/web/serve.mjs (cross-origin isolated, so both
// contenders may use threads) with extra mounts, and Debian's headless chromium driven by
// playwright-core (tests/web's node_modules).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// mounts: {'/prefix': dir}. Resolves to {url, stop}.
export function startServer(packageDir, mounts) {
  const mountArgs = Object.entries(mounts).flatMap(([prefix, dir]) => ['--mount', `${prefix}=${dir}`]);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(root, 'examples', 'web', 'serve.mjs'), '--port', '0', '--package', packageDir,
      ...mountArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.on('data', (d) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(String(d));
      if (m) resolve({ url: m[1], stop: () => p.kill() });
    });
    p.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

// A fresh profile each time (no HTTP or code cache carried over between benchmark runs).
export async function launchChromium() {
  const { chromium } = createRequire(path.join(root, 'tests', 'web', 'package.json'))('playwright-core');
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'tessera-bench-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  return {
    context,
    version: context.browser()?.version() ?? null,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

// The --name value of argv, else fallback.
export function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}
