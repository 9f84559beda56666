#!/usr/bin/python3
# Generates test/fixtures/resnet/family.json: torchvision's state-dict keys, shapes and parameter counts for the
# ResNeXt and Wide ResNet builders, and PyTorch (float64) eval logits, train-mode logits, loss, input and
# parameter gradients of ResNeXt-50 32x4d (64×64) and Wide ResNet-50-2 (48×48), batch 2, on the hash-initialised
# weights of fixtures_resnet.py (rebuilt bit for bit by test/helpers/hashinit.ts), so no weights are committed.
# The seed is the first at which torch's float32 runs (as is, and with every weight jittered by 2 ulp, standing in
# for another implementation's rounding) agree with float64 to 1e-4 (a tenth of the test bound) on everything
# compared: at other seeds a ReLU input lies within float32 rounding of 0, and a float32 implementation whose
# rounding flips it differs by ~0.5% in the early gradients. (The check does not make the fixture robust to
# every float32 rounding: gpugrad's float32 backends still flip a unit at some seeds; test/resnet-family.test.ts
# says how it bounds those gradients.)
# Run: /usr/bin/python3 scripts/fixtures_resnet_family.py
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from fixtures_resnet import INPUT_STREAM, OUT, hash_init, hash_tensor, keys_of, summary

NAMES = ['resnext50_32x4d', 'resnext101_32x8d', 'resnext101_64x4d', 'wide_resnet50_2', 'wide_resnet101_2']
# 64×64 as the ResNet-50 fixture (at 32×32 layer4 is 1×1, and a train-mode batch norm over 2 values per channel is
# so ill-conditioned that float32 and float64 disagree by ~100%); 48×48 for the wide net, whose 4× more ReLU
# inputs make a well-conditioned seed rare at 64×64 (layer4 is 2×2 at both sizes).
SHAPES = {'resnext50_32x4d': [2, 3, 64, 64], 'wide_resnet50_2': [2, 3, 48, 48]}
# The search starts here: the script tried the seeds below and they fail the check (see case()).
FIRST_SEED = {'resnext50_32x4d': 5, 'wide_resnet50_2': 3}
LABELS = [3, 7]
GRADS = ['conv1.weight', 'layer1.0.conv2.weight', 'layer2.0.downsample.0.weight', 'layer3.1.conv2.weight', 'layer3.1.bn2.weight', 'bn1.weight', 'fc.weight', 'fc.bias']

rng = np.random.RandomState(11)


def positions(n, k=128):
    return sorted(int(p) for p in rng.choice(n, size=k, replace=False))


def run(name, seed, dtype, jitter=None):
    model = getattr(torchvision.models, name)()
    hash_init(model, seed)
    model = model.to(dtype)
    if jitter is not None:
        # Every weight moved by up to 2 ulp: float32 rounding in another order (gpugrad's kernels) moves values
        # by about that much, so a seed that survives this flips no ReLU under their rounding either.
        g = torch.Generator().manual_seed(jitter)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1 + 2.0 ** -22 * (torch.rand(p.shape, generator=g, dtype=dtype) * 2 - 1))
    x = torch.from_numpy(hash_tensor(seed, INPUT_STREAM, SHAPES[name])).to(dtype)
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    model.train()
    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    loss = F.cross_entropy(logits, torch.tensor(LABELS))
    loss.backward()
    params = dict(model.named_parameters())
    return {'evalLogits': eval_logits, 'trainLogits': logits, 'loss': loss, 'inputGrad': xg.grad, **{f'grad:{k}': params[k].grad for k in GRADS}}


def worst(a, b):
    """Largest difference relative to max |reference| over every compared tensor, and where."""
    errs = {k: float((a[k].double() - b[k].double()).abs().max() / b[k].double().abs().max().clamp_min(1e-30)) for k in b}
    k = max(errs, key=errs.get)
    return errs[k], k


def case(name):
    for seed in range(FIRST_SEED[name], 40):
        ref = run(name, seed, torch.float64)
        err, where = max(worst(run(name, seed, torch.float32, jitter), ref) for jitter in [None, 1, 2, 3])
        if err < 1e-4:
            break
        print(f'{name}: seed {seed} is ill-conditioned in float32 ({err:.2e} in {where}); trying the next')
    else:
        raise RuntimeError(f'no well-conditioned seed for {name}')
    print(f'{name}: seed {seed}, torch float32 vs float64 {err:.2e}')
    return {
        'seed': seed,
        'inputStream': INPUT_STREAM,
        'inputShape': SHAPES[name],
        'labels': LABELS,
        'float32Error': err,
        'evalLogits': summary(ref['evalLogits'], positions),
        'trainLogits': summary(ref['trainLogits'], positions),
        'loss': float(ref['loss']),
        'inputGrad': summary(ref['inputGrad'], positions),
        'grads': {k: summary(ref[f'grad:{k}'], positions) for k in GRADS},
    }


def main():
    torch.manual_seed(0)
    keys, counts = {}, {}
    for name in NAMES:
        with torch.no_grad():
            m = getattr(torchvision.models, name)()
        keys[name] = keys_of(m)
        counts[name] = sum(p.numel() for p in m.parameters())
        del m
    out = {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'dtype': 'float64', 'parameterCounts': counts, 'keys': keys,
           'cases': {name: case(name) for name in ['resnext50_32x4d', 'wide_resnet50_2']}}
    with open(os.path.join(OUT, 'family.json'), 'w') as f:
        json.dump(out, f, separators=(',', ':'))
    print('wrote family.json', counts)


if __name__ == '__main__':
    main()
