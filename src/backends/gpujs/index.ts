// The gpu.js backend's public face: the backend class, its modes and Node's webgpu shim. The adapter is split by
// concern in this folder (backend, schedule, compile, device, ops, gemm, host, modes, internals); this folder and
// kernels/gpujs are the only places that import gpu.js.
export { GpujsBackend } from './backend.js';
export { FLAT_INDEX_LIMIT } from './device.js';
export { fastestGpujsMode, gpujsModeAvailable, gpujsThreadsAvailable, installWebGPU, type GpujsMode } from './modes.js';
