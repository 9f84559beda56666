// Classification accuracy from logits read back to the host: shared by the CLI's training loop and the demo page.

/** How many rows of `logits` [n, classes] have their largest value (the first, on ties) at the row's label. */
export function countCorrect(logits: Float32Array, labels: Int32Array, classes: number): number {
  let c = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
    if (best === labels[i]) c++;
  }
  return c;
}
