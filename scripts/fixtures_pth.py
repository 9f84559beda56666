#!/usr/bin/python3
# Generates test/fixtures/pth/: small files written by torch.save (PyTorch's zip checkpoint format, pickle inside)
# that gpugrad's .pth reader must read, or refuse with a clear error. Expected values go beside them as JSON.
# Run: /usr/bin/python3 scripts/fixtures_pth.py
import collections
import json
import os

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from fixtures_resnet import SEED, hash_init

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'pth')


def values(t):
    return [float(v) for v in t.detach().double().contiguous().view(-1).tolist()]


def dtypes_case():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1
    tensors = {
        'f32': base.clone(),
        'f64': torch.tensor([[0.5, -7.25], [1e-300, 3.0]], dtype=torch.float64),
        'f16': torch.tensor([1.0, -2.5, 65504.0, 6.1e-5], dtype=torch.float16),
        'bf16': torch.tensor([1.0, -2.5, 3.140625, 1e30], dtype=torch.bfloat16),
        'i64': torch.tensor([-3, 0, 2**40], dtype=torch.int64),
        'i32': torch.tensor([-7, 9], dtype=torch.int32),
        'i16': torch.tensor([-300, 301], dtype=torch.int16),
        'i8': torch.tensor([-128, 127], dtype=torch.int8),
        'u8': torch.tensor([0, 255], dtype=torch.uint8),
        'bool': torch.tensor([True, False, True]),
        'scalar': torch.tensor(2.5),
        'empty': torch.zeros(0, 3),
        # Views: a transpose (non-contiguous strides), a row and a column of one shared storage (offsets).
        'transposed': base.t(),
        'row': base[1],
        'column': base[:, 2],
        'param': nn.Parameter(torch.tensor([[1.5, -0.5]])),
    }
    # Two names on one storage: the row and column views above share `shared`'s storage.
    shared = torch.linspace(-1, 1, 6).reshape(2, 3)
    tensors['shared'] = shared
    tensors['shared_row'] = shared[1]
    torch.save(tensors, os.path.join(OUT, 'dtypes.pth'))
    # The same dict in the legacy (pre-1.6) stream format, which older checkpoints and downloads use.
    torch.save(tensors, os.path.join(OUT, 'dtypes-legacy.pth'), _use_new_zipfile_serialization=False)
    return {k: {'shape': list(v.shape), 'values': values(v)} for k, v in tensors.items()}


def bottleneck_case():
    # The stride-2 projection block of fixtures_resnet.py's bottleneck cases, on the same hash-initialised weights.
    down = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
    block = Bottleneck(8, 4, 2, down)
    hash_init(block, SEED)
    block.bn1.num_batches_tracked.fill_(7)
    torch.save(block.state_dict(), os.path.join(OUT, 'bottleneck.pth'))
    # A training checkpoint around the same weights: the state dict under 'model', beside optimizer state.
    opt = torch.optim.SGD(block.parameters(), lr=0.1, momentum=0.9)
    block.train()
    block(torch.ones(1, 8, 5, 5)).sum().backward()
    opt.step()
    torch.save({'epoch': 3, 'model': block.state_dict(), 'optimizer': opt.state_dict(), 'note': 'gpugrad fixture'}, os.path.join(OUT, 'checkpoint.pth'))
    return {'model': {k: {'shape': list(v.shape), 'values': values(v)} for k, v in block.state_dict().items()}}


def tiny_resnet():
    # torchvision's ResNet-18 layout (keys, ranks, strides) with every width divided by 32 and 5 classes: a
    # whole network in a few kilobytes for the CLI's `predict --weights x.pth`.
    torch.manual_seed(0)
    sd = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=5).state_dict()
    small = lambda d: d // 32 if d in (64, 128, 256, 512) else d
    tiny = {}
    for k, v in sd.items():
        shape = [small(d) for d in v.shape]
        if v.dtype == torch.int64:
            tiny[k] = torch.zeros(shape, dtype=torch.int64)
        elif k.endswith('running_var'):
            tiny[k] = torch.rand(shape) + 0.5
        else:
            tiny[k] = torch.randn(shape) * 0.3
    torch.save(collections.OrderedDict(tiny), os.path.join(OUT, 'tiny-resnet.pth'))


def refused_cases():
    t = torch.ones(2)
    # A global outside the tensor allowlist: loading it would run arbitrary code in Python.
    torch.save({'w': t, 'counts': collections.Counter(a=1)}, os.path.join(OUT, 'foreign-global.pth'))


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {'torch': torch.__version__, 'dtypes': dtypes_case(), 'checkpoint': bottleneck_case()}
    refused_cases()
    tiny_resnet()
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, separators=(',', ':'))


if __name__ == '__main__':
    main()
