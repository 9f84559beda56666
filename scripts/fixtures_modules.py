#!/usr/bin/python3
# Writes test/fixtures/modules/modules.json: PyTorch references for gpugrad's nn modules on hash-initialised weights
# (fixtures_resnet.py's hash init, rebuilt by test/helpers/hashinit.ts):
#  - a custom module written the PyTorch way (attributes, two inputs, a tuple out): its state-dict keys and shapes,
#    parameter count, train-mode outputs, input and parameter gradients, and 5 SGD steps of losses;
#  - BatchNorm1d on [N, C] and [N, C, L] in training (outputs, gradients, running statistics) and eval mode.
# Run: /usr/bin/python3 scripts/fixtures_modules.py
import json
import os

import torch
import torch.nn as nn

from fixtures_resnet import hash_init, hash_tensor

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'modules')
SEED = 5
A_STREAM, B_STREAM, UP_STREAM, TARGET_STREAM = 1_000_000, 1_100_000, 2_000_000, 3_000_000


class TwoTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(3))
        self.register_buffer('count', torch.zeros(()))
        self.left = nn.Linear(4, 3)
        self.right = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3))
        self.heads = nn.ModuleList([nn.Linear(3, 2), nn.Linear(3, 2, bias=False)])
        self.norm = nn.BatchNorm1d(3)

    def forward(self, a, b):
        h = self.norm(self.left(a) * self.scale + self.right(b))
        return self.heads[0](h), self.heads[1](h).relu()


def flat(t):
    return [float('%.9g' % v) for v in t.detach().double().flatten().tolist()]


def two_tower():
    m = TwoTower()
    hash_init(m, SEED)
    m = m.double()
    a = torch.from_numpy(hash_tensor(SEED, A_STREAM, [6, 4])).double().requires_grad_(True)
    b = torch.from_numpy(hash_tensor(SEED, B_STREAM, [6, 5])).double().requires_grad_(True)
    y0, y1 = m(a, b)
    up0 = torch.from_numpy(hash_tensor(SEED, UP_STREAM, [6, 2])).double()
    up1 = torch.from_numpy(hash_tensor(SEED, UP_STREAM + 1, [6, 2])).double()
    ((y0 * up0).sum() + (y1 * up1).sum()).backward()
    out = {
        'keys': [[k, list(v.shape)] for k, v in m.state_dict().items()],
        'numParameters': sum(p.numel() for p in m.parameters()),
        'y0': flat(y0), 'y1': flat(y1), 'aGrad': flat(a.grad), 'bGrad': flat(b.grad),
        'grads': {k: flat(p.grad) for k, p in m.named_parameters()},
        'runningMean': flat(m.norm.running_mean), 'runningVar': flat(m.norm.running_var),
    }
    # Training: 5 SGD steps on an MSE to fixed targets, from the same weights.
    m = TwoTower()
    hash_init(m, SEED)
    m = m.double()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    t0 = torch.from_numpy(hash_tensor(SEED, TARGET_STREAM, [6, 2])).double()
    t1 = torch.from_numpy(hash_tensor(SEED, TARGET_STREAM + 1, [6, 2])).double()
    losses = []
    for _ in range(5):
        opt.zero_grad()
        y0, y1 = m(a.detach(), b.detach())
        loss = ((y0 - t0) ** 2).mean() + ((y1 - t1) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out['sgdLosses'] = losses
    return out


def batchnorm1d(shape, stream):
    bn = nn.BatchNorm1d(shape[1])
    hash_init(bn, SEED)
    bn = bn.double()
    x = torch.from_numpy(hash_tensor(SEED, stream, shape, 2.0)).double().requires_grad_(True)
    y = bn(x)
    up = torch.from_numpy(hash_tensor(SEED, UP_STREAM, shape)).double()
    (y * up).sum().backward()
    bn.eval()
    with torch.no_grad():
        y_eval = bn(x)
    return {'shape': shape, 'y': flat(y), 'xGrad': flat(x.grad), 'weightGrad': flat(bn.weight.grad), 'biasGrad': flat(bn.bias.grad),
            'runningMean': flat(bn.running_mean), 'runningVar': flat(bn.running_var), 'yEval': flat(y_eval)}


def main():
    os.makedirs(OUT, exist_ok=True)
    out = {'torch': torch.__version__, 'seed': SEED, 'streams': {'a': A_STREAM, 'b': B_STREAM, 'up': UP_STREAM, 'target': TARGET_STREAM},
           'twoTower': two_tower(), 'batchNorm1d': [batchnorm1d([5, 3], 4_000_000), batchnorm1d([4, 3, 6], 4_100_000)]}
    with open(os.path.join(OUT, 'modules.json'), 'w') as f:
        json.dump(out, f, separators=(',', ':'))
    print('wrote modules.json')


if __name__ == '__main__':
    main()
