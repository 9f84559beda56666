// The browser page imports the TensorFlow.js peers statically (esbuild bundles them), but they are installed
// only under bench/ on demand: these shorthand declarations keep `npm run typecheck` working without them.
// The page uses them through the typed interfaces of bench/peers/tfjs.ts.
declare module '@tensorflow/tfjs-core';
declare module '@tensorflow/tfjs-backend-wasm';
