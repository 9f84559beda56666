// docs/api.md is what scripts/api-table.ts generates from the current exports: a new or renamed export must be
// followed by regenerating it (node --import tsx scripts/api-table.ts), so the coverage table stays true.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apiTable, snake } from '../scripts/api-table.js';

describe('docs/api.md', () => {
  it('is current (regenerate with: node --import tsx scripts/api-table.ts)', () => {
    expect(readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8')).toBe(apiTable());
  });
  it("maps camelCase names to PyTorch's snake_case", () => {
    expect(['crossEntropy', 'maxPool2d', 'requiresGrad_', 'adaptiveAvgPool2d', 'binaryCrossEntropyWithLogits', 'clipGradNorm_', 'l1Loss', 'relu6'].map(snake)).toEqual([
      'cross_entropy', 'max_pool2d', 'requires_grad_', 'adaptive_avg_pool2d', 'binary_cross_entropy_with_logits', 'clip_grad_norm_', 'l1_loss', 'relu6',
    ]);
  });
});
