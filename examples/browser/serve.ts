// A static file server on 127.0.0.1 for the demo and the browser benchmark. With `isolate` (the default) it
// sends COOP/COEP, which make the page cross-origin isolated: SharedArrayBuffer, and so wasm threads, exist
// only there. `npm run demo` builds the demo and serves it with this; tests and benchmarks import serveStatic.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.gz': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
};

export interface StaticServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Serves the files under `root` (several roots: the first that has the path wins); port 0 picks a free port. */
export function serveStatic(root: string | string[], options: { port?: number; isolate?: boolean } = {}): Promise<StaticServer> {
  const roots = (Array.isArray(root) ? root : [root]).map((r) => normalize(r));
  const isolate = options.isolate ?? true;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const rel = path.endsWith('/') ? `${path}index.html` : path;
    for (const r of roots) {
      const file = normalize(join(r, rel));
      if (!file.startsWith(r + sep)) break; // no escaping the root with ../
      let size: number;
      try {
        const st = statSync(file);
        if (!st.isFile()) continue;
        size = st.size;
      } catch {
        continue;
      }
      const headers: Record<string, string | number> = { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': size, 'Cache-Control': 'no-cache' };
      if (isolate) {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
        headers['Cross-Origin-Resource-Policy'] = 'same-origin';
      }
      res.writeHead(200, headers);
      createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end(`not found: ${path}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : options.port;
      resolve({ server, url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}

// `npm run demo`: build, then serve until interrupted.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { buildDemo, DEMO_DIST } = await import('./build.js');
  const sizes = await buildDemo();
  console.log(`built ${DEMO_DIST} (app.js ${(sizes['app.js'] / 1024).toFixed(0)} KiB, digits ${(sizes['digits.bin.gz'] / 1024).toFixed(0)} KiB)`);
  const port = Number(process.env.PORT ?? 8080);
  const s = await serveStatic(DEMO_DIST, { port });
  console.log(`gpugrad demo: ${s.url} (cross-origin isolated: COOP/COEP sent); Ctrl-C stops it`);
}
