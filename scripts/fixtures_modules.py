#!/usr/bin/python3
# Writes test/fixtures/modules/modules.json: PyTorch references for gpugrad's nn modules on hash-initialised weights
# (fixtures_resnet.py's hash init, rebuilt by test/helpers/hashinit.ts):
#  - a custom module written the PyTorch way (attributes, two inputs, a tuple out): its state-dict keys and shapes,
#    parameter count, train-mode outputs, input and parameter gradients, and 5 SGD steps of losses;
#  - BatchNorm1d on [N, C] and [N, C, L] in training (outputs, gradients, running statistics) and eval mode;
#  - every module over F (norms, ConvTranspose2d, Upsample, activations, losses): state-dict keys, output, input
#    and parameter gradients, each described by gpugrad's constructor arguments (test/nn-modules-f.test.ts).
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


# name, gpugrad constructor (kind, args, options), torch constructor, input shape, input scale
import torch.nn.functional as F  # noqa: E402

MODULE_CASES = [
    ('layerNorm2d', dict(kind='LayerNorm', args=[[4, 5]]), lambda: nn.LayerNorm([4, 5]), [2, 3, 4, 5], 2.0),
    ('layerNormNoAffine', dict(kind='LayerNorm', args=[5], options=dict(elementwiseAffine=False, eps=1e-3)), lambda: nn.LayerNorm(5, eps=1e-3, elementwise_affine=False), [3, 5], 2.0),
    ('groupNorm', dict(kind='GroupNorm', args=[2, 6]), lambda: nn.GroupNorm(2, 6), [2, 6, 3, 3], 2.0),
    ('convTranspose2d', dict(kind='ConvTranspose2d', args=[4, 6, 3], options=dict(stride=2, padding=1, outputPadding=1, groups=2)),
     lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), [2, 4, 3, 3], 1.0),
    ('convTranspose2dNoBias', dict(kind='ConvTranspose2d', args=[3, 2, [2, 3]], options=dict(stride=[1, 2], bias=False, dilation=2)),
     lambda: nn.ConvTranspose2d(3, 2, (2, 3), stride=(1, 2), bias=False, dilation=2), [1, 3, 4, 3], 1.0),
    ('upsampleBilinear', dict(kind='Upsample', args=[dict(scaleFactor=2, mode='bilinear', alignCorners=False)]), lambda: nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False), [1, 2, 3, 4], 1.0),
    ('upsampleNearestSize', dict(kind='Upsample', args=[dict(size=[5, 7])]), lambda: nn.Upsample(size=(5, 7)), [2, 1, 3, 4], 1.0),
    ('gelu', dict(kind='GELU'), lambda: nn.GELU(), [3, 7], 4.0),
    ('geluTanh', dict(kind='GELU', args=['tanh']), lambda: nn.GELU(approximate='tanh'), [3, 7], 4.0),
    ('silu', dict(kind='SiLU'), lambda: nn.SiLU(), [3, 7], 4.0),
    ('sigmoid', dict(kind='Sigmoid'), lambda: nn.Sigmoid(), [3, 7], 4.0),
    ('tanh', dict(kind='Tanh'), lambda: nn.Tanh(), [3, 7], 4.0),
    ('leakyRelu', dict(kind='LeakyReLU', args=[0.2]), lambda: nn.LeakyReLU(0.2), [3, 7], 4.0),
    ('relu6', dict(kind='ReLU6'), lambda: nn.ReLU6(), [3, 7], 8.0),
    ('relu', dict(kind='ReLU'), lambda: nn.ReLU(), [3, 7], 4.0),
    ('softmax', dict(kind='Softmax', args=[1]), lambda: nn.Softmax(dim=1), [2, 4, 3], 3.0),
    ('identity', dict(kind='Identity'), lambda: nn.Identity(), [2, 3], 1.0),
    ('flatten', dict(kind='Flatten'), lambda: nn.Flatten(), [2, 3, 2, 2], 1.0),
    ('dropoutEval', dict(kind='Dropout', args=[0.3], eval=True), lambda: nn.Dropout(0.3), [4, 5], 1.0),
]

# name, gpugrad constructor (options may name tensors: 'weight' [C] / 'posWeight' [C], hash-initialised as buffers),
# torch constructor, input shape, target (class indices, or a hash tensor of the input's shape in [0, 1])
LOSS_CASES = [
    ('crossEntropyFull', dict(kind='CrossEntropyLoss', options=dict(weight=5, ignoreIndex=2, labelSmoothing=0.1)),
     lambda: nn.CrossEntropyLoss(weight=torch.ones(5), ignore_index=2, label_smoothing=0.1), [4, 5], [0, 2, 4, 1]),
    ('crossEntropyND', dict(kind='CrossEntropyLoss', options=dict(reduction='sum')), lambda: nn.CrossEntropyLoss(reduction='sum'), [2, 3, 4], [[0, 1, 2, 1], [2, 2, 0, 1]]),
    ('nll', dict(kind='NLLLoss', options=dict(weight=4)), lambda: nn.NLLLoss(weight=torch.ones(4)), [3, 4], [3, 0, 1]),
    ('mseSum', dict(kind='MSELoss', options=dict(reduction='sum')), lambda: nn.MSELoss(reduction='sum'), [3, 4], 'tensor'),
    ('l1None', dict(kind='L1Loss', options=dict(reduction='none')), lambda: nn.L1Loss(reduction='none'), [3, 4], 'tensor'),
    ('bceWithLogits', dict(kind='BCEWithLogitsLoss', options=dict(posWeight=4)), lambda: nn.BCEWithLogitsLoss(pos_weight=torch.ones(4)), [3, 4], 'tensor'),
]


def module_case(name, spec, make, shape, scale, stream):
    m = make()
    hash_init(m, SEED)
    m = m.double()
    if spec.get('eval'):
        m.eval()
    x = torch.from_numpy(hash_tensor(SEED, stream, shape, scale)).double().requires_grad_(True)
    y = m(x)
    up = torch.from_numpy(hash_tensor(SEED, UP_STREAM, list(y.shape))).double()
    (y * up).sum().backward()
    return {'name': name, 'module': spec, 'inputShape': shape, 'inputScale': scale, 'inputStream': stream,
            'keys': [[k, list(v.shape)] for k, v in m.state_dict().items()], 'outShape': list(y.shape), 'y': flat(y), 'xGrad': flat(x.grad),
            'grads': {k: flat(p.grad) for k, p in m.named_parameters()}}


def loss_case(name, spec, make, shape, target, stream):
    m = make()
    hash_init(m, SEED)
    m = m.double()
    x = torch.from_numpy(hash_tensor(SEED, stream, shape, 2.0)).double().requires_grad_(True)
    if target == 'tensor':
        t = (torch.from_numpy(hash_tensor(SEED, TARGET_STREAM, shape)).double() + 1) / 2
        tgt = {'stream': TARGET_STREAM}
    else:
        t = torch.tensor(target)
        tgt = {'labels': target}
    y = m(x, t)
    up = torch.from_numpy(hash_tensor(SEED, UP_STREAM, list(y.shape))).double() if y.dim() else torch.tensor(1.0, dtype=torch.float64)
    (y * up).sum().backward()
    return {'name': name, 'module': spec, 'inputShape': shape, 'inputStream': stream, 'target': tgt,
            'keys': [[k, list(v.shape)] for k, v in m.state_dict().items()], 'outShape': list(y.shape), 'y': flat(y.reshape(-1)), 'xGrad': flat(x.grad)}


def main():
    os.makedirs(OUT, exist_ok=True)
    out = {'torch': torch.__version__, 'seed': SEED, 'streams': {'a': A_STREAM, 'b': B_STREAM, 'up': UP_STREAM, 'target': TARGET_STREAM},
           'twoTower': two_tower(), 'batchNorm1d': [batchnorm1d([5, 3], 4_000_000), batchnorm1d([4, 3, 6], 4_100_000)],
           'modules': [module_case(*c, 5_000_000 + 1000 * i) for i, c in enumerate(MODULE_CASES)],
           'losses': [loss_case(*c, 6_000_000 + 1000 * i) for i, c in enumerate(LOSS_CASES)]}
    with open(os.path.join(OUT, 'modules.json'), 'w') as f:
        json.dump(out, f, separators=(',', ':'))
    print('wrote modules.json')


if __name__ == '__main__':
    main()
