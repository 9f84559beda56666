#!/usr/bin/python3
# Writes test/fixtures/optim/optim.json: torch.optim's parameter trajectories on a fixed least-squares
# problem (10 steps per optimizer config) and the learning rates of StepLR / CosineAnnealingLR, so the
# TypeScript optimizers can be checked against PyTorch without running Python in CI.
import json, math, os
import torch

torch.manual_seed(0)
# float64 so the fixture is the exact answer; the TS side computes in float32 and is checked with a tolerance.
X = torch.randn(8, 4, dtype=torch.float64)
Y = torch.randn(8, 3, dtype=torch.float64)
W0 = torch.randn(4, 3, dtype=torch.float64) * 0.5
B0 = torch.randn(3, dtype=torch.float64) * 0.5

CONFIGS = [
    ("sgd", "SGD", dict(lr=0.1)),
    ("sgd_momentum", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd_nesterov", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", "Adam", dict(lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)),
    ("adamw", "AdamW", dict(lr=0.05, betas=(0.8, 0.999), eps=1e-6, weight_decay=0.1)),
]


def loss_fn(w, b):
    return ((X @ w + b - Y) ** 2).mean()


runs = []
for name, cls, kw in CONFIGS:
    w = W0.clone().requires_grad_(True)
    b = B0.clone().requires_grad_(True)
    opt = getattr(torch.optim, cls)([w, b], **kw)
    steps = []
    for _ in range(10):
        opt.zero_grad()
        loss = loss_fn(w, b)
        loss.backward()
        opt.step()
        steps.append(dict(loss=loss.item(), w=w.detach().flatten().tolist(), b=b.detach().flatten().tolist()))
    opts = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
    runs.append(dict(name=name, optimizer=cls, options=opts, steps=steps))


def lrs(make_sched, n):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    s = make_sched(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    return out


schedules = dict(
    step=dict(stepSize=3, gamma=0.5, lrs=lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 10)),
    cosine=dict(tMax=6, etaMin=0.001, lrs=lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=6, eta_min=0.001), 10)),
)

out = dict(
    torch=torch.__version__,
    X=X.flatten().tolist(), Y=Y.flatten().tolist(), W0=W0.flatten().tolist(), B0=B0.flatten().tolist(),
    runs=runs, schedules=schedules,
)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "optim", "optim.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
