#!/usr/bin/python3
# PyTorch CPU peer for the benchmark: eval forward and training steps of torchvision's resnet50 on gpugrad's
# weights and inputs, timed here with torch.set_num_threads(2); prints one JSON report on stdout.
#
# usage: torch_bench.py JOB.json   (JOB names the weights, inputs, output paths and time budget; see torch.ts)
import importlib.util
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('export_onnx', os.path.join(HERE, '..', '..', 'scripts', 'export_onnx.py'))
export_onnx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(export_onnx)


def timed(fn, time_ms, min_iter):
    """Cold first call, then calls until both min_iter calls and time_ms have passed; median in ms."""
    t0 = time.perf_counter()
    fn()
    cold = (time.perf_counter() - t0) * 1e3
    samples = []
    start = time.perf_counter()
    while len(samples) < min_iter or (time.perf_counter() - start) * 1e3 < time_ms:
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    return {'coldMs': cold, 'medianMs': statistics.median(samples), 'samples': len(samples)}


def main():
    job = json.load(open(sys.argv[1]))
    torch.set_num_threads(job.get('threads', 2))
    report = {'threads': torch.get_num_threads(), 'version': torch.__version__}
    ev = job.get('eval')
    if ev:
        model = export_onnx.load_resnet50(job['weights'])
        x = export_onnx.read_input(ev['input'], ev['shape'])
        with torch.no_grad():
            t0 = time.perf_counter()
            logits = model(x)
            first_ms = (time.perf_counter() - t0) * 1e3
            with open(ev['out'], 'wb') as f:
                f.write(logits.contiguous().numpy().astype('<f4').tobytes())
            report['eval'] = timed(lambda: model(x), job['timeMs'], job['minIter'])
            report['eval']['coldMs'] = first_ms
    report['train'] = []
    for tr in job.get('train', []):
        model = export_onnx.load_resnet50(job['weights']).train()
        opt = torch.optim.SGD(model.parameters(), lr=tr['lr'], momentum=tr['momentum'])
        x = export_onnx.read_input(tr['input'], tr['shape'])
        y = torch.tensor(tr['labels'], dtype=torch.long)

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()

        t0 = time.perf_counter()
        first_loss = step()  # the loss on the untouched weights, compared with gpugrad's
        first_ms = (time.perf_counter() - t0) * 1e3
        t = timed(step, job['timeMs'], job['minIter'])
        t['coldMs'] = first_ms
        report['train'].append({'key': tr['key'], 'firstLoss': first_loss, **t})
    print(json.dumps(report))


if __name__ == '__main__':
    main()
