#!/usr/bin/python3
# PyTorch CPU reference for the training-step comparison (bench/train-ab.ts): torchvision's resnet50 (its own
# random init; timing does not depend on the weights), SGD momentum 0.9, cross-entropy, 2 threads by default.
# Prints one line of JSON: {"size", "batch", "threads", "ms": [per-step wall times after 2 warm-up steps]}; with
# STEPS 0 it then serves: each line N on stdin runs N more steps and prints their times the same way (so a
# caller can alternate it with other contenders in one run).
#
# usage: /usr/bin/python3 torch_train_step.py SIZE BATCH STEPS [THREADS]   (Debian's python3-torch 1.13)
import json
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

size, batch, steps = (int(a) for a in sys.argv[1:4])
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
model = torchvision.models.resnet50().train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(batch, 3, size, size)
y = torch.tensor([(i * 37) % 1000 for i in range(batch)])


def step():
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


for _ in range(2):
    step()


def timed(n):
    ms = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({'size': size, 'batch': batch, 'threads': torch.get_num_threads(), 'ms': ms}), flush=True)


timed(steps)
if steps == 0:
    for line in sys.stdin:
        timed(int(line))
