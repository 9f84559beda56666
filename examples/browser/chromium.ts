// Starts Debian's Chromium headless through playwright-core, with the flags that give this project's CI
// machines (no GPU, no sandbox) WebGL through SwiftShader and WebGPU, and a fresh profile that is deleted on
// close. Used by the browser tests (test/browser/harness.ts, test/browser-demo.test.ts) and the browser benchmark.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.GPUGRAD_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--headless=new',
  '--use-gl=angle',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh --user-data-dir; `close()` ends it and removes the profile. */
export async function launchChromium(options: { width?: number; height?: number } = {}): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set GPUGRAD_CHROMIUM to its path`);
  const profile = mkdtempSync(join(tmpdir(), 'gpugrad-chromium-'));
  // A persistent context is how playwright passes a user-data-dir; headless comes from --headless=new.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: false,
    args: CHROMIUM_FLAGS,
    ignoreDefaultArgs: ['--headless'],
    viewport: { width: options.width ?? 980, height: options.height ?? 1200 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
