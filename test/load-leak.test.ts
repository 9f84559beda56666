// loadStateDict outside any tidy scope leaves no stray tensors behind (it once leaked one scalar per key).
import { describe, expect, it } from 'vitest';
import { memory, nn, zeros } from '../src/index.js';

describe('loadStateDict memory', () => {
  it('adds no live tensors when called outside tidy', () => {
    const lin = new nn.Linear(3, 2);
    const sd = new Map([['weight', zeros([2, 3])], ['bias', zeros([2])]]);
    const before = memory().tensors;
    lin.loadStateDict(sd);
    expect(memory().tensors).toBe(before);
    lin.dispose();
    for (const t of sd.values()) t.dispose();
  });
});
