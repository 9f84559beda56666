#!/usr/bin/python3
# Writes test/fixtures/optim/trajectories.json: 20-step torch.optim trajectories on the least-squares problem of
# fixtures_optim.py for every optimizer with parameter groups (per-group options) and every learning-rate
# scheduler, recording each step's loss, parameters and per-group lr. Each config is described with gpugrad's
# option names (camelCase) so the TypeScript test builds the same optimizer and scheduler from it; the test
# also round-trips both state dicts at step 10 and checks steps 11..20 against the same record.
# Run: /usr/bin/python3 scripts/fixtures_optim_sched.py
import json
import os

import torch

torch.manual_seed(0)
X = torch.randn(8, 4, dtype=torch.float64)
Y = torch.randn(8, 3, dtype=torch.float64)
W0 = torch.randn(4, 3, dtype=torch.float64) * 0.5
B0 = torch.randn(3, dtype=torch.float64) * 0.5
STEPS = 20

TORCH_NAMES = {
    'weightDecay': 'weight_decay', 'lrDecay': 'lr_decay', 'initialAccumulatorValue': 'initial_accumulator_value',
}
# Named so the TypeScript side can use the same functions (test/optim-sched.test.ts).
LAMBDAS = {
    'inverse': lambda e: 1.0 / (1.0 + 0.3 * e),
    'geometric': lambda e: 0.9 ** e,
}

# name, optimizer, defaults, groups (parameter indices 0 = w, 1 = b, and per-group options), scheduler
CONFIGS = [
    ('sgd_groups_multistep', 'SGD', dict(lr=0.05, momentum=0.9, weightDecay=0.01),
     [dict(params=[0]), dict(params=[1], lr=0.02, momentum=0.5, dampening=0.1)],
     dict(kind='MultiStepLR', milestones=[5, 12], gamma=0.5)),
    ('adam_groups_exponential', 'Adam', dict(lr=0.05),
     [dict(params=[0], weightDecay=0.01), dict(params=[1], lr=0.01, betas=[0.8, 0.99])],
     dict(kind='ExponentialLR', gamma=0.9)),
    ('adamw_lambda_per_group', 'AdamW', dict(lr=0.05, weightDecay=0.1),
     [dict(params=[0]), dict(params=[1], lr=0.1)],
     dict(kind='LambdaLR', lambdas=['inverse', 'geometric'])),
    ('rmsprop_linear', 'RMSprop', dict(lr=0.01, alpha=0.9),
     [dict(params=[0, 1])],
     dict(kind='LinearLR', startFactor=0.25, endFactor=1.0, totalIters=8)),
    ('rmsprop_centered_momentum_step', 'RMSprop', dict(lr=0.005, momentum=0.9, centered=True, weightDecay=0.01),
     [dict(params=[0]), dict(params=[1], centered=False, momentum=0.0, alpha=0.95)],
     dict(kind='StepLR', stepSize=4, gamma=0.7)),
    ('adagrad_groups_cosine', 'Adagrad', dict(lr=0.1, lrDecay=0.01, weightDecay=0.01, initialAccumulatorValue=0.1),
     [dict(params=[0]), dict(params=[1], lr=0.3, eps=1e-6)],
     dict(kind='CosineAnnealingLR', tMax=10, etaMin=0.001)),
    ('sgd_nesterov_onecycle', 'SGD', dict(lr=0.05, momentum=0.9, nesterov=True),
     [dict(params=[0, 1])],
     dict(kind='OneCycleLR', maxLr=0.1, totalSteps=STEPS)),
    ('adam_onecycle_three_phase_linear', 'Adam', dict(lr=0.01),
     [dict(params=[0]), dict(params=[1])],
     dict(kind='OneCycleLR', maxLr=[0.05, 0.02], totalSteps=STEPS + 2, threePhase=True, annealStrategy='linear', pctStart=0.25)),
    ('sgd_warmup_cosine', 'SGD', dict(lr=0.1, momentum=0.8),
     [dict(params=[0, 1])],
     dict(kind='SequentialLR', schedulers=[dict(kind='LinearLR', startFactor=0.1, totalIters=4), dict(kind='CosineAnnealingLR', tMax=16)], milestones=[4])),
    ('sgd_plateau', 'SGD', dict(lr=0.1, momentum=0.5),
     [dict(params=[0]), dict(params=[1], lr=0.05)],
     dict(kind='ReduceLROnPlateau', mode='min', factor=0.5, patience=1, threshold=0.05, cooldown=1, minLr=[0.0, 0.02])),
]


def torch_opts(opts):
    out = {}
    for k, v in opts.items():
        out[TORCH_NAMES.get(k, k)] = tuple(v) if k == 'betas' else v
    return out


def make_scheduler(opt, s):
    L = torch.optim.lr_scheduler
    k = s['kind']
    if k == 'MultiStepLR':
        return L.MultiStepLR(opt, milestones=s['milestones'], gamma=s['gamma'])
    if k == 'ExponentialLR':
        return L.ExponentialLR(opt, gamma=s['gamma'])
    if k == 'LambdaLR':
        return L.LambdaLR(opt, [LAMBDAS[n] for n in s['lambdas']])
    if k == 'LinearLR':
        return L.LinearLR(opt, start_factor=s.get('startFactor', 1 / 3), end_factor=s.get('endFactor', 1.0), total_iters=s.get('totalIters', 5))
    if k == 'StepLR':
        return L.StepLR(opt, step_size=s['stepSize'], gamma=s['gamma'])
    if k == 'CosineAnnealingLR':
        return L.CosineAnnealingLR(opt, T_max=s['tMax'], eta_min=s.get('etaMin', 0))
    if k == 'OneCycleLR':
        return L.OneCycleLR(opt, max_lr=s['maxLr'], total_steps=s['totalSteps'], three_phase=s.get('threePhase', False),
                            anneal_strategy=s.get('annealStrategy', 'cos'), pct_start=s.get('pctStart', 0.3))
    if k == 'SequentialLR':
        return L.SequentialLR(opt, [make_scheduler(opt, c) for c in s['schedulers']], milestones=s['milestones'])
    if k == 'ReduceLROnPlateau':
        return L.ReduceLROnPlateau(opt, mode=s['mode'], factor=s['factor'], patience=s['patience'], threshold=s['threshold'],
                                   cooldown=s['cooldown'], min_lr=s['minLr'])
    raise ValueError(k)


def run(cls, defaults, groups, sched):
    w = W0.clone().requires_grad_(True)
    b = B0.clone().requires_grad_(True)
    ps = [w, b]
    tg = [dict(params=[ps[i] for i in g['params']], **torch_opts({k: v for k, v in g.items() if k != 'params'})) for g in groups]
    opt = getattr(torch.optim, cls)(tg, **torch_opts(defaults))
    s = make_scheduler(opt, sched)
    steps = []
    for _ in range(STEPS):
        lrs = [g['lr'] for g in opt.param_groups]
        opt.zero_grad()
        loss = ((X @ w + b - Y) ** 2).mean()
        loss.backward()
        opt.step()
        if sched['kind'] == 'ReduceLROnPlateau':
            s.step(loss.item())
        else:
            s.step()
        steps.append(dict(lrs=lrs, loss=loss.item(), w=w.detach().flatten().tolist(), b=b.detach().flatten().tolist()))
    return steps


runs = []
for name, cls, defaults, groups, sched in CONFIGS:
    runs.append(dict(name=name, optimizer=cls, defaults=defaults, groups=groups, scheduler=sched, steps=run(cls, defaults, groups, sched)))

out = dict(torch=torch.__version__, X=X.flatten().tolist(), Y=Y.flatten().tolist(), W0=W0.flatten().tolist(), B0=B0.flatten().tolist(), runs=runs)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'optim', 'trajectories.json')
with open(path, 'w') as f:
    json.dump(out, f, indent=None, separators=(',', ':'))
print('wrote', path)
