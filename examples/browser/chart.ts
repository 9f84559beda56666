// The live training chart: two panels on one canvas, loss per step (raw and smoothed) and accuracy in %
// (the running training accuracy and the held-out accuracy after each epoch), both against epochs.

export interface ChartData {
  /** Steps per epoch, to put the x axis in epochs. */
  stepsPerEpoch: number;
  epochs: number;
  /** Loss of every step. */
  losses: number[];
  /** Training accuracy of every step's batch, in [0, 1]. */
  accuracies: number[];
  /** Held-out accuracy after epoch i + 1, in [0, 1]. */
  heldOut: number[];
}

interface Series {
  color: string;
  width: number;
  points: [number, number][];
  dots?: boolean;
}

/** Exponential moving average: at batch 32 the per-step values are too noisy to read. */
function smooth(values: number[], keep = 0.95): number[] {
  let m = values[0] ?? 0;
  return values.map((v, i) => (m = i === 0 ? v : keep * m + (1 - keep) * v));
}

export function drawChart(canvas: HTMLCanvasElement, d: ChartData): void {
  const ctx = canvas.getContext('2d')!;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const half = canvas.width / 2;
  const x = (step: number): number => (step + 1) / d.stepsPerEpoch;
  // The loss axis ends at the next half unit above the largest loss, so its labels stay round.
  const maxLoss = Math.ceil(2 * Math.max(0.5, ...d.losses.filter(Number.isFinite))) / 2;
  panel(ctx, 0, half, canvas.height, 'loss', [0, maxLoss], d.epochs, [
    { color: '#c5cde0', width: 1, points: d.losses.map((l, i) => [x(i), l]) },
    { color: '#2456c8', width: 2, points: smooth(d.losses).map((l, i) => [x(i), l]) },
  ]);
  panel(ctx, half, half, canvas.height, 'accuracy %', [0, 100], d.epochs, [
    { color: '#e08a2c', width: 2, points: smooth(d.accuracies).map((a, i) => [x(i), 100 * a]) },
    { color: '#1e8f4a', width: 2, points: d.heldOut.map((a, i) => [i + 1, 100 * a]), dots: true },
  ]);
  legend(ctx, half + 60, 18, [
    ['#e08a2c', 'training (running)'],
    ['#1e8f4a', 'held out (per epoch)'],
  ]);
  legend(ctx, 60, 18, [
    ['#c5cde0', 'per step'],
    ['#2456c8', 'smoothed'],
  ]);
}

function panel(ctx: CanvasRenderingContext2D, left: number, width: number, height: number, title: string, [y0, y1]: [number, number], epochs: number, series: Series[]): void {
  const pad = { l: 44, r: 14, t: 30, b: 28 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const px = (e: number): number => left + pad.l + (w * e) / Math.max(epochs, 1);
  const py = (v: number): number => pad.t + h - (h * (Math.min(Math.max(v, y0), y1) - y0)) / (y1 - y0);
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = '#1d2330';
  ctx.fillText(title, left + pad.l, pad.t - 16);
  // Grid and axis labels: 5 horizontal lines, one tick per epoch.
  ctx.strokeStyle = '#e3e7ef';
  ctx.lineWidth = 1;
  ctx.fillStyle = '#5b6475';
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    ctx.beginPath();
    ctx.moveTo(left + pad.l, py(v));
    ctx.lineTo(left + pad.l + w, py(v));
    ctx.stroke();
    ctx.fillText(y1 >= 10 ? v.toFixed(0) : v.toFixed(2), left + 6, py(v) + 4);
  }
  for (let e = 0; e <= epochs; e++) ctx.fillText(String(e), px(e) - 3, pad.t + h + 16);
  ctx.fillText('epoch', left + pad.l + w / 2 - 16, pad.t + h + 16);
  for (const s of series) {
    ctx.strokeStyle = ctx.fillStyle = s.color;
    ctx.lineWidth = s.width;
    ctx.beginPath();
    s.points.forEach(([e, v], i) => (i ? ctx.lineTo(px(e), py(v)) : ctx.moveTo(px(e), py(v))));
    ctx.stroke();
    if (s.dots)
      for (const [e, v] of s.points) {
        ctx.beginPath();
        ctx.arc(px(e), py(v), 4, 0, 2 * Math.PI);
        ctx.fill();
        ctx.fillText(`${v.toFixed(2)}%`, px(e) - 46, py(v) + 16);
      }
  }
}

function legend(ctx: CanvasRenderingContext2D, x: number, y: number, items: [string, string][]): void {
  ctx.font = '12px system-ui, sans-serif';
  let at = x + 90;
  for (const [color, label] of items) {
    ctx.fillStyle = color;
    ctx.fillRect(at, y - 8, 14, 4);
    ctx.fillStyle = '#5b6475';
    ctx.fillText(label, at + 18, y - 3);
    at += 24 + ctx.measureText(label).width + 16;
  }
}
