#!/usr/bin/python3
# Writes test/fixtures/ops/*.json: PyTorch's answers for conv2d, batch_norm (train with the running-statistic
# update, and eval), max/avg/adaptive-avg pooling and cross_entropy, forward and input/weight gradients, so
# test/pytorch-ops.test.ts can hold gpugrad to PyTorch's semantics without Python in CI.
#
# Inputs are float32 values from a fixed seed. PyTorch evaluates them in float64, so the fixture is the
# exact answer for those inputs (not PyTorch's own float32 rounding); values are stored at float32
# precision (9 significant digits, which round-trip exactly to float32). Gradients are those of
# sum(y * R) for a fixed random R, stored with the case.
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "ops")
gen = torch.Generator().manual_seed(20240607)


def rand(*shape, lo=-2.0, hi=2.0):
    """float32 values, then widened: the TS side uploads exactly these float32 numbers."""
    return (torch.rand(tuple(shape), generator=gen) * (hi - lo) + lo).to(torch.float32).to(torch.float64)


def enc(t):
    if t is None:
        return None
    t = t.detach().to(torch.float64)
    # %.9g: shortest text that still round-trips to the same float32.
    return {"shape": list(t.shape), "data": [float("%.9g" % v) for v in t.flatten().tolist()]}


def case(name, op, params, inputs, fn, grad=(), extra=None):
    """Runs fn(**inputs) in float64, then backward of sum(y * R) for the inputs named in `grad`."""
    leaves = {k: (v.clone().requires_grad_(k in grad) if v is not None else None) for k, v in inputs.items()}
    y = fn(**leaves)
    out = {"name": name, "op": op, "params": params, "inputs": {k: enc(v) for k, v in inputs.items()}, "output": enc(y)}
    if grad:
        R = rand(*y.shape, lo=-1.0, hi=1.0)
        (y * R).sum().backward()
        out["R"] = enc(R)
        out["grads"] = {k: enc(leaves[k].grad) for k in grad}
    if extra:
        out["extra"] = {k: enc(v) for k, v in extra().items()}
    return out


def write(fname, cases):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, fname), "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


def conv_cases():
    specs = [
        # name, N, C, H, W, O, kh, kw, stride, padding, dilation, groups, bias
        ("3x3 pad 1 bias", 2, 2, 5, 5, 3, 3, 3, (1, 1), (1, 1), (1, 1), 1, True),
        ("3x3 stride 2 pad 1 (odd input)", 1, 2, 7, 6, 3, 3, 3, (2, 2), (1, 1), (1, 1), 1, False),
        ("1x1 stride 2 (downsample)", 2, 3, 5, 5, 2, 1, 1, (2, 2), (0, 0), (1, 1), 1, False),
        ("1x1 pointwise bias", 1, 4, 3, 3, 2, 1, 1, (1, 1), (0, 0), (1, 1), 1, True),
        ("dilation 2 pad 2", 1, 2, 7, 7, 2, 3, 3, (1, 1), (2, 2), (2, 2), 1, True),
        ("groups 2, 2x3 kernel, stride (2,1), pad (1,0)", 1, 4, 5, 6, 4, 2, 3, (2, 1), (1, 0), (1, 1), 2, True),
        ("depthwise 3x3 pad 1", 1, 3, 4, 4, 3, 3, 3, (1, 1), (1, 1), (1, 1), 3, False),
        ("stride 3 larger than kernel 2", 1, 2, 7, 7, 2, 2, 2, (3, 3), (1, 1), (1, 1), 1, False),
    ]
    cases = []
    for name, n, c, h, w, o, kh, kw, s, p, d, g, bias in specs:
        inputs = {"x": rand(n, c, h, w), "weight": rand(o, c // g, kh, kw, lo=-0.5, hi=0.5), "bias": rand(o) if bias else None}
        params = {"stride": list(s), "padding": list(p), "dilation": list(d), "groups": g}
        fn = lambda x, weight, bias, s=s, p=p, d=d, g=g: F.conv2d(x, weight, bias, stride=s, padding=p, dilation=d, groups=g)
        cases.append(case(name, "conv2d", params, inputs, fn, grad=("x", "weight") + (("bias",) if bias else ())))
    return cases


def bn_cases():
    cases = []
    for name, shape, training, momentum, eps, affine in [
        ("train affine momentum 0.1", (2, 3, 3, 3), True, 0.1, 1e-5, True),
        ("train no affine momentum 0.3 eps 1e-3", (3, 2, 2, 1), True, 0.3, 1e-3, False),
        ("train batch 1", (1, 2, 2, 3), True, 0.1, 1e-5, True),
        ("eval affine", (2, 3, 2, 2), False, 0.1, 1e-5, True),
    ]:
        c = shape[1]
        rm = rand(c, lo=-1, hi=1)
        rv = rand(c, lo=0.5, hi=2)
        inputs = {"x": rand(*shape), "runningMean": rm, "runningVar": rv, "weight": rand(c, lo=0.5, hi=1.5) if affine else None, "bias": rand(c) if affine else None}
        state = {}

        def fn(x, runningMean, runningVar, weight, bias, training=training, momentum=momentum, eps=eps):
            # batch_norm updates the buffers in place; work on copies and keep them for `extra`.
            state["rm"] = runningMean.detach().clone()
            state["rv"] = runningVar.detach().clone()
            return F.batch_norm(x, state["rm"], state["rv"], weight, bias, training=training, momentum=momentum, eps=eps)

        params = {"training": training, "momentum": momentum, "eps": eps}
        grad = ("x", "weight", "bias") if affine else ("x",)
        cases.append(case(name, "batchNorm2d", params, inputs, fn, grad=grad, extra=lambda: {"runningMean": state["rm"], "runningVar": state["rv"]}))
    return cases


def maxpool_cases():
    cases = []
    for name, shape, k, s, p, d, ceil in [
        ("max 3x3 stride 2 pad 1 (ResNet stem)", (1, 2, 7, 7), (3, 3), (2, 2), (1, 1), (1, 1), False),
        ("max 2x2 stride 2 ceil (odd input)", (2, 1, 5, 7), (2, 2), (2, 2), (0, 0), (1, 1), True),
        ("max 3x2 dilation (2,1) pad 1 ceil", (1, 2, 6, 5), (3, 2), (2, 2), (1, 1), (2, 1), True),
        ("max 2x3 stride (1,2) pad (1,1)", (1, 1, 4, 5), (2, 3), (1, 2), (1, 1), (1, 1), False),
        ("max 1x1 stride 3 (stride larger than kernel)", (1, 2, 5, 4), (1, 1), (3, 3), (0, 0), (1, 1), False),
    ]:
        params = {"kernelSize": list(k), "stride": list(s), "padding": list(p), "dilation": list(d), "ceilMode": ceil}
        fn = lambda x, k=k, s=s, p=p, d=d, ceil=ceil: F.max_pool2d(x, k, s, p, d, ceil_mode=ceil)
        cases.append(case(name, "maxPool2d", params, {"x": rand(*shape)}, fn, grad=("x",)))
    # Ties: after a ReLU many inputs are 0, and coarse values repeat; PyTorch routes each window's gradient
    # to the first maximum in scan order.
    for name, x in [("max 3x3 stride 2 pad 1, ties at 0 after ReLU", rand(1, 2, 6, 6).clamp(min=0)), ("max 2x2 stride 1, repeated values", (rand(1, 1, 5, 5) * 1.5).round() / 2)]:
        k, s, p = ((3, 3), (2, 2), (1, 1)) if "3x3" in name else ((2, 2), (1, 1), (0, 0))
        params = {"kernelSize": list(k), "stride": list(s), "padding": list(p), "dilation": [1, 1], "ceilMode": False}
        fn = lambda x, k=k, s=s, p=p: F.max_pool2d(x, k, s, p)
        cases.append(case(name, "maxPool2d", params, {"x": x}, fn, grad=("x",)))
    return cases


def avgpool_cases():
    cases = []
    for name, shape, k, s, p, ceil, cip in [
        ("avg 3x3 stride 2 pad 1 include pad", (1, 2, 6, 6), (3, 3), (2, 2), (1, 1), False, True),
        ("avg 3x3 stride 2 pad 1 exclude pad", (1, 2, 6, 6), (3, 3), (2, 2), (1, 1), False, False),
        ("avg 3x3 stride 2 pad 1 ceil include pad", (1, 1, 6, 5), (3, 3), (2, 2), (1, 1), True, True),
        ("avg 3x3 stride 2 pad 1 ceil exclude pad", (1, 1, 6, 5), (3, 3), (2, 2), (1, 1), True, False),
        ("avg 2x2 stride 2 ceil no pad (odd input)", (2, 1, 5, 5), (2, 2), (2, 2), (0, 0), True, True),
        ("avg 2x3 stride (3,2) pad (1,1) exclude pad", (1, 2, 5, 6), (2, 3), (3, 2), (1, 1), False, False),
    ]:
        params = {"kernelSize": list(k), "stride": list(s), "padding": list(p), "ceilMode": ceil, "countIncludePad": cip}
        fn = lambda x, k=k, s=s, p=p, ceil=ceil, cip=cip: F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip)
        cases.append(case(name, "avgPool2d", params, {"x": rand(*shape)}, fn, grad=("x",)))
    return cases


def adaptive_cases():
    cases = []
    for name, shape, out in [
        ("adaptive global 7x7 -> 1x1", (2, 2, 7, 7), (1, 1)),
        ("adaptive 6x4 -> 3x2 (dividing)", (1, 2, 6, 4), (3, 2)),
        ("adaptive 5x7 -> 3x2 (non-dividing)", (1, 2, 5, 7), (3, 2)),
        ("adaptive 7x5 -> 4x3 (non-dividing)", (2, 1, 7, 5), (4, 3)),
        ("adaptive 2x3 -> 3x5 (larger output)", (1, 1, 2, 3), (3, 5)),
    ]:
        fn = lambda x, out=out: F.adaptive_avg_pool2d(x, out)
        cases.append(case(name, "adaptiveAvgPool2d", {"outputSize": list(out)}, {"x": rand(*shape)}, fn, grad=("x",)))
    return cases


def ce_cases():
    cases = []
    for name, n, k, scale in [("batch 4, 5 classes", 4, 5, 2.0), ("batch 1, 3 classes", 1, 3, 2.0), ("batch 3, 10 classes, large logits", 3, 10, 20.0)]:
        labels = torch.randint(0, k, (n,), generator=gen)
        fn = lambda logits, labels=labels: F.cross_entropy(logits, labels)
        c = case(name, "crossEntropy", {"labels": labels.tolist()}, {"logits": rand(n, k, lo=-scale, hi=scale)}, fn, grad=("logits",))
        cases.append(c)
    return cases


def misc_cases():
    """The remaining F ops whose layout or semantics could silently differ: unfold's row order, linear, softmaxes, MSE."""
    cases = []
    for name, shape, k, s, p, d in [("unfold 2x3 stride (1,2) pad (1,0) dilation (2,1)", (2, 2, 5, 6), (2, 3), (1, 2), (1, 0), (2, 1)), ("unfold 3x3 pad 1", (1, 2, 4, 4), (3, 3), (1, 1), (1, 1), (1, 1))]:
        params = {"kernelSize": list(k), "stride": list(s), "padding": list(p), "dilation": list(d)}
        fn = lambda x, k=k, s=s, p=p, d=d: F.unfold(x, k, dilation=d, padding=p, stride=s)
        cases.append(case(name, "unfold", params, {"x": rand(*shape)}, fn, grad=("x",)))
    cases.append(case("linear [2,3,4] -> 5 with bias", "linear", {}, {"x": rand(2, 3, 4), "weight": rand(5, 4), "bias": rand(5)}, lambda x, weight, bias: F.linear(x, weight, bias), grad=("x", "weight", "bias")))
    cases.append(case("logSoftmax dim 1 of [2,4,3]", "logSoftmax", {"dim": 1}, {"x": rand(2, 4, 3, lo=-5, hi=5)}, lambda x: F.log_softmax(x, 1), grad=("x",)))
    cases.append(case("softmax dim -1 of [3,5]", "softmax", {"dim": -1}, {"x": rand(3, 5, lo=-5, hi=5)}, lambda x: F.softmax(x, -1), grad=("x",)))
    cases.append(case("mseLoss [2,3,2]", "mseLoss", {}, {"x": rand(2, 3, 2), "target": rand(2, 3, 2)}, lambda x, target: F.mse_loss(x, target), grad=("x", "target")))
    return cases


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    write("conv2d.json", conv_cases())
    write("batchnorm2d.json", bn_cases())
    write("maxpool2d.json", maxpool_cases())
    write("avgpool2d.json", avgpool_cases())
    write("adaptive_avgpool2d.json", adaptive_cases())
    write("cross_entropy.json", ce_cases())
    write("misc.json", misc_cases())
    print("wrote", sorted(os.listdir(OUT)))
