// When a tensor's memory goes: a tensor owns a handle (the user's or a tidy scope's), a storage and the graph
// node that made it, and each is released as soon as nothing needs it — PyTorch's reference counting, by hand.
//
// - The handle dies on dispose(), when a scope closes, or when the garbage collector finds the Tensor object
//   unreachable (a FinalizationRegistry): plain loops that never dispose do not grow.
// - The storage lives while the handle does or while a live graph node reads its values in backward
//   (`valueRefs`). Nodes whose rule needs only shapes (add, reshape, sum…) do not keep their inputs' storage.
// - The node lives while the handle does or while a live node downstream lists the tensor as an input
//   (`graphRefs`): backward must be able to walk through a tensor the user already disposed.
// backward() frees each node it walks (unless retainGraph), which releases what that node kept.
import { Buffer, engine } from './engine.js';
import type { GradNode } from './autograd.js';
import { nodeReads } from './autograd.js';
import type { Backend, Storage } from './backend.js';

/** What a Tensor owns, kept apart from the Tensor object so it can be released after the object is collected. */
export class Core {
  handle = true;
  /** Registered with the FinalizationRegistry (only tensors that no scope owns are). */
  watched = false;
  graphRefs = 0;
  valueRefs = 0;
  /** The backend the storage lives on (kept after the storage is released, for messages and printing). */
  backend: Backend;
  constructor(
    public buf: Buffer | null,
    public node: GradNode | null,
  ) {
    this.backend = (buf as Buffer).backend;
  }
}

export function makeBuffer(backend: Backend, handle: Storage): Buffer {
  const b = new Buffer(backend, handle, backend.bytes(handle));
  engine.buffers.add(b);
  engine.allocatedSinceReclaim += b.bytes;
  return b;
}

export function releaseBuffer(b: Buffer): void {
  if (--b.refs > 0) return;
  if (b.deferred) return b.deferred.release(); // a placeholder: no storage of its own (engine.ts Deferred)
  engine.buffers.delete(b);
  b.backend.release(b.handle);
}

/**
 * Links a freshly recorded node to what it holds: every input gains a graph reference, and the inputs (or the
 * output `core`) whose values the rule reads gain a value reference, with their version noted for the in-place
 * check.
 */
export function attachNode(core: Core, node: GradNode, inputCores: readonly Core[]): void {
  const r = nodeReads(node.op);
  node.versions = inputCores.map((c, i) => (readsInput(r.inputs, i) && c.buf ? c.buf.version : -1));
  node.outputVersion = r.output && core.buf ? core.buf.version : -1;
  inputCores.forEach((c, i) => {
    c.graphRefs++;
    if (readsInput(r.inputs, i)) c.valueRefs++;
  });
  if (r.output) core.valueRefs++;
}

function readsInput(inputs: readonly number[] | 'all', i: number): boolean {
  return inputs === 'all' || inputs.includes(i);
}

/** Frees `node` (owned by `core`): drops what it held and lets each input go if nothing else needs it. */
export function freeNode(core: Core, node: GradNode): void {
  const work: Core[] = [];
  releaseHeld(core, node, work);
  drain(work);
}

function releaseHeld(core: Core, node: GradNode, work: Core[]): void {
  if (node.freed) return;
  node.freed = true;
  const r = nodeReads(node.op);
  node.inputs.forEach((t, i) => {
    const c = t.core;
    c.graphRefs--;
    if (readsInput(r.inputs, i)) c.valueRefs--;
    work.push(c);
  });
  if (r.output) {
    core.valueRefs--;
    work.push(core);
  }
  for (const s of node.saved) s.dispose();
  node.inputs = [];
  node.saved = [];
}

/** Releases whatever of these cores is no longer needed, following freed nodes to their inputs (iteratively: graphs are deep). */
function drain(work: Core[]): void {
  while (work.length) {
    const c = work.pop() as Core;
    if (c.handle) continue;
    if (c.graphRefs === 0 && c.node && !c.node.freed) releaseHeld(c, c.node, work);
    if (c.valueRefs === 0 && c.buf) {
      const b = c.buf;
      c.buf = null;
      releaseBuffer(b);
    }
  }
}

/**
 * backward() pins every tensor of the graph it walks while it walks: freeing a node must not cascade into one that
 * still waits for its gradient.
 */
export function pin(core: Core): void {
  core.graphRefs++;
}
export function unpin(core: Core): void {
  core.graphRefs--;
  drain([core]);
}

/** The handle of `core` is gone (dispose, scope exit or garbage collection): release what nothing else needs. */
export function dropHandle(core: Core): void {
  if (!core.handle) return;
  core.handle = false;
  engine.live--;
  drain([core]);
}

/**
 * Tensors the program dropped without dispose() are released when the garbage collector finds them. The held
 * value is the Core, never the Tensor, so registration does not keep the tensor alive.
 */
const collected = new FinalizationRegistry<Core>((core) => dropHandle(core));

/**
 * Hands a tensor to the garbage collector's care once no scope owns it. Tensors made inside a module call or
 * tidy() are disposed by their scope, so registering them (most tensors) would only cost time.
 */
export function watch(t: object, core: Core): void {
  if (core.watched || !core.handle) return;
  core.watched = true;
  collected.register(t, core, core);
}
export function unwatch(core: Core): void {
  if (core.watched) collected.unregister(core);
  core.watched = false;
}

/**
 * Gives pending finalizers a turn when much was allocated since the last one: they run only as macrotasks, and
 * a loop that awaits only microtasks (await t.data() on a host backend) would never let them. Called from the
 * async read path, which a training loop awaits every step or so.
 */
export async function maybeReclaim(): Promise<void> {
  if (engine.allocatedSinceReclaim < RECLAIM_EVERY) return;
  engine.allocatedSinceReclaim = 0;
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
}
const RECLAIM_EVERY = 32 * 2 ** 20;
