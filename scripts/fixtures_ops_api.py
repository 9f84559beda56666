#!/usr/bin/python3
# Writes test/fixtures/ops-api/*.json: PyTorch's answers for the everyday ops and F functions of issue #18
# (comparisons, selection, statistics, joins/splits, index ops, sorting, creation, activations, padding,
# resizing, transposed convolution, layer/group norm and the losses), values and input gradients, so
# test/pytorch-ops-api.test.ts holds gpugrad to PyTorch without Python in CI.
#
# As scripts/fixtures_ops.py: float32 inputs from a fixed seed evaluated in float64 (the exact answer for those
# inputs), stored with 9 significant digits; gradients are those of Σ_i sum(y_i * R_i) over the differentiable
# outputs, R_i fixed random. Index inputs (gather's index, class targets) are stored as float values; the
# Python side converts them to int64. `k` is the reduction length of one output (the float32 tolerance scale).
import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "ops-api")
gen = torch.Generator().manual_seed(20261130)


def rand(*shape, lo=-2.0, hi=2.0):
    return (torch.rand(tuple(shape), generator=gen) * (hi - lo) + lo).to(torch.float32).to(torch.float64)


def ints(n, *shape):
    return torch.randint(0, n, tuple(shape), generator=gen).to(torch.float64)


def enc(t):
    t = t.detach().to(torch.float64)
    # JSON has no NaN or infinities: those travel as the strings "NaN", "Infinity", "-Infinity".
    num = lambda v: float("%.9g" % v) if math.isfinite(v) else ("NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))
    return {"shape": list(t.shape), "data": [num(v) for v in t.flatten().tolist()]}


def case(name, op, params, inputs, fn, grad=(), k=1):
    """fn(**leaves) gives a tensor or a tuple; floating outputs that need a gradient are differentiated."""
    leaves = {n: v.clone().requires_grad_(n in grad) for n, v in inputs.items()}
    y = fn(**leaves)
    outs = list(y) if isinstance(y, (tuple, list)) else [y]
    c = {"name": name, "op": op, "params": params, "inputs": {n: enc(v) for n, v in inputs.items()}, "outputs": [enc(t) for t in outs], "k": k}
    if grad:
        diff = [t.requires_grad for t in outs]
        Rs = [rand(*t.shape, lo=-1.0, hi=1.0) if d else None for t, d in zip(outs, diff)]
        total = sum((t * R).sum() for t, R in zip(outs, Rs) if R is not None)
        total.backward()
        c["R"] = [enc(R) if R is not None else None for R in Rs]
        c["grads"] = {n: enc(leaves[n].grad if leaves[n].grad is not None else torch.zeros_like(leaves[n])) for n in grad}
    return c


def write(fname, cases):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, fname), "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


def tensor_ops():
    c = []
    x = rand(3, 4)
    ties = torch.tensor([[1.0, 3, 3, 2], [5, 5, -1, 5], [0, 0, 0, 0]])
    for name, xx, dim, keep in [("[3,4] dim 1", x, 1, False), ("[3,4] dim 0 keepdim", x, 0, True), ("ties dim 1 (first index)", ties, 1, False), ("flattened", x, None, False), ("[2,1,3] dim -1", rand(2, 1, 3), -1, False)]:
        p = {"dim": dim, "keepdim": keep}
        c.append(case(f"argmax {name}", "argmax", p, {"x": xx}, lambda x, dim=dim, keep=keep: torch.argmax(x, dim, keep).double() if dim is not None else torch.argmax(x).double()))
        c.append(case(f"argmin {name}", "argmin", p, {"x": xx}, lambda x, dim=dim, keep=keep: torch.argmin(x, dim, keep).double() if dim is not None else torch.argmin(x).double()))
    c.append(case("min dim 1", "min", {"dim": 1, "keepdim": False}, {"x": rand(3, 5)}, lambda x: torch.amin(x, 1), grad=("x",), k=5))
    c.append(case("min all", "min", {"dim": None, "keepdim": False}, {"x": rand(2, 3)}, lambda x: torch.amin(x), grad=("x",), k=6))
    c.append(case("amax ties split the gradient", "amax", {"dim": 1, "keepdim": True}, {"x": ties}, lambda x: torch.amax(x, 1, True), grad=("x",), k=4))
    c.append(case("amin ties split the gradient", "amin", {"dim": [0, 1], "keepdim": False}, {"x": ties}, lambda x: torch.amin(x, (0, 1)), grad=("x",), k=12))
    for name, shape, dim, corr, keep in [("all, unbiased", (3, 4), None, 1, False), ("dim 1 correction 0 keepdim", (3, 4), 1, 0, True), ("dims [0,2] correction 2", (3, 2, 4), [0, 2], 2, False), ("dim 0 of [1,3] (n = correction: inf)", (1, 3), 0, 1, False)]:
        p = {"dim": dim, "correction": corr, "keepdim": keep}
        kk = 12
        xx = rand(*shape)
        d = tuple(dim) if isinstance(dim, list) else dim
        g = ("x",) if shape != (1, 3) else ()
        c.append(case(f"var {name}", "var", p, {"x": xx}, lambda x, d=d, corr=corr, keep=keep: torch.var(x, d, correction=corr, keepdim=keep), grad=g, k=kk))
        c.append(case(f"std {name}", "std", p, {"x": xx}, lambda x, d=d, corr=corr, keep=keep: torch.std(x, d, correction=corr, keepdim=keep), grad=g, k=kk))
    xc = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 3.0])
    c.append(case("clamp [-1, 1] (bounds included)", "clamp", {"min": -1, "max": 1}, {"x": xc}, lambda x: torch.clamp(x, -1, 1), grad=("x",)))
    c.append(case("clamp min only", "clamp", {"min": 0.25, "max": None}, {"x": rand(2, 3)}, lambda x: torch.clamp(x, min=0.25), grad=("x",)))
    c.append(case("clamp max only", "clamp", {"min": None, "max": 0.5}, {"x": rand(2, 3)}, lambda x: torch.clamp(x, max=0.5), grad=("x",)))
    c.append(case("clamp min > max gives max", "clamp", {"min": 1, "max": -1}, {"x": rand(5)}, lambda x: torch.clamp(x, 1, -1), grad=("x",)))
    c.append(case("clamp tensor bounds", "clampT", {}, {"x": rand(2, 3), "lo": rand(3, lo=-1, hi=0), "hi": rand(2, 1, lo=0, hi=1)}, lambda x, lo, hi: torch.clamp(x, lo, hi), grad=("x", "lo", "hi")))
    cond = (rand(2, 3) > 0).double()
    c.append(case("where broadcast", "where", {}, {"cond": cond, "a": rand(2, 3), "b": rand(3)}, lambda cond, a, b: torch.where(cond > 0, a, b), grad=("a", "b")))
    a = torch.tensor([1.0, 2, 3, 4, float("nan")])
    b = torch.tensor([2.0, 2, 1, 4, 1])
    for op, fn in [("lt", torch.lt), ("le", torch.le), ("ge", torch.ge), ("ne", torch.ne)]:
        c.append(case(f"{op} with a tie and a NaN", op, {}, {"a": a, "b": b}, lambda a, b, fn=fn: fn(a, b).double()))
        c.append(case(f"{op} broadcast with a number", op + "Scalar", {"b": 0.5}, {"a": rand(2, 3)}, lambda a, fn=fn: fn(a, 0.5).double()))
    ma = torch.tensor([[1.0, 2, 3], [0, -1, 7]])
    mb = torch.tensor([3.0, 2, 1])
    c.append(case("maximum broadcast, a tie splits the gradient", "maximum", {}, {"a": ma, "b": mb}, lambda a, b: torch.maximum(a, b), grad=("a", "b")))
    c.append(case("minimum broadcast, a tie splits the gradient", "minimum", {}, {"a": ma, "b": mb}, lambda a, b: torch.minimum(a, b), grad=("a", "b")))
    for dim in [0, 1, -1]:
        c.append(case(f"stack dim {dim}", "stack", {"dim": dim}, {"a": rand(2, 3), "b": rand(2, 3), "c": rand(2, 3)}, lambda a, b, c, dim=dim: torch.stack([a, b, c], dim), grad=("a", "b", "c")))
    c.append(case("cat dim 1", "cat", {"dim": 1}, {"a": rand(2, 1), "b": rand(2, 3)}, lambda a, b: torch.cat([a, b], 1), grad=("a", "b")))
    c.append(case("split size 2 of 5", "split", {"sizes": 2, "dim": 1}, {"x": rand(2, 5)}, lambda x: torch.split(x, 2, 1), grad=("x",)))
    c.append(case("split sections [1,3,1]", "split", {"sizes": [1, 3, 1], "dim": 0}, {"x": rand(5, 2)}, lambda x: torch.split(x, [1, 3, 1], 0), grad=("x",)))
    c.append(case("chunk 3 of 7", "chunk", {"chunks": 3, "dim": -1}, {"x": rand(2, 7)}, lambda x: torch.chunk(x, 3, -1), grad=("x",)))
    c.append(case("chunk 4 of 6 (3 pieces)", "chunk", {"chunks": 4, "dim": 0}, {"x": rand(6)}, lambda x: torch.chunk(x, 4, 0), grad=("x",)))
    c.append(case("gather dim 1, repeated indices", "gather", {"dim": 1}, {"x": rand(3, 4), "index": torch.tensor([[0.0, 0, 3], [1, 2, 1], [3, 3, 3]])}, lambda x, index: torch.gather(x, 1, index.long()), grad=("x",)))
    c.append(case("gather dim 0 smaller index", "gather", {"dim": 0}, {"x": rand(3, 4, 2), "index": ints(3, 2, 3, 2)}, lambda x, index: torch.gather(x, 0, index.long()), grad=("x",)))
    c.append(case("indexSelect dim 1", "indexSelect", {"dim": 1, "index": [2, 0, 2]}, {"x": rand(2, 3, 2)}, lambda x: torch.index_select(x, 1, torch.tensor([2, 0, 2])), grad=("x",)))
    c.append(case("indexSelect dim 0", "indexSelect", {"dim": 0, "index": [1]}, {"x": rand(3, 2)}, lambda x: torch.index_select(x, 0, torch.tensor([1])), grad=("x",)))
    c.append(case("t of [2,3]", "t", {}, {"x": rand(2, 3)}, lambda x: x.t(), grad=("x",)))
    c.append(case("T of [2,3,4]", "T", {}, {"x": rand(2, 3, 4)}, lambda x: x.permute(2, 1, 0), grad=("x",)))
    c.append(case("transpose 0, 2", "transpose", {"d0": 0, "d1": 2}, {"x": rand(2, 3, 4)}, lambda x: x.transpose(0, 2), grad=("x",)))
    c.append(case("squeeze method dim 1", "squeeze", {"dim": 1}, {"x": rand(2, 1, 3)}, lambda x: x.squeeze(1), grad=("x",)))
    c.append(case("unsqueeze method dim -1", "unsqueeze", {"dim": -1}, {"x": rand(2, 3)}, lambda x: x.unsqueeze(-1), grad=("x",)))
    c.append(case("softmax method dim 0", "softmaxM", {"dim": 0}, {"x": rand(3, 4, lo=-4, hi=4)}, lambda x: x.softmax(0), grad=("x",), k=3))
    c.append(case("sigmoid method", "sigmoidM", {}, {"x": rand(2, 5, lo=-8, hi=8)}, lambda x: x.sigmoid(), grad=("x",)))
    c.append(case("tanh method", "tanhM", {}, {"x": rand(2, 5, lo=-4, hi=4)}, lambda x: x.tanh(), grad=("x",)))
    c.append(case("clone", "clone", {}, {"x": rand(2, 3)}, lambda x: x.clone(), grad=("x",)))
    xs = rand(3, 6)
    c.append(case("sort dim -1", "sort", {"dim": -1, "descending": False}, {"x": xs}, lambda x: (lambda r: (r.values, r.indices.double()))(torch.sort(x, -1)), grad=("x",)))
    c.append(case("sort dim 0 descending", "sort", {"dim": 0, "descending": True}, {"x": xs}, lambda x: (lambda r: (r.values, r.indices.double()))(torch.sort(x, 0, descending=True)), grad=("x",)))
    c.append(case("sort stable with ties", "sort", {"dim": 1, "descending": False}, {"x": ties}, lambda x: (lambda r: (r.values, r.indices.double()))(torch.sort(x, stable=True, dim=1)), grad=("x",)))
    c.append(case("argsort descending", "argsort", {"dim": 1, "descending": True}, {"x": xs}, lambda x: torch.argsort(x, 1, descending=True).double()))
    c.append(case("topk 2 of 6", "topk", {"k": 2, "dim": -1, "largest": True}, {"x": xs}, lambda x: (lambda r: (r.values, r.indices.double()))(torch.topk(x, 2, -1)), grad=("x",)))
    c.append(case("topk 2 smallest dim 0", "topk", {"k": 2, "dim": 0, "largest": False}, {"x": xs}, lambda x: (lambda r: (r.values, r.indices.double()))(torch.topk(x, 2, 0, largest=False)), grad=("x",)))
    # Past 16 picks sort/topk select by rank (an n×n comparison) instead of by repeated extremes.
    big = torch.cat([rand(2, 14), torch.tensor([[0.5, 0.5, -1.0, 0.5, 2.0, -1.0], [1.0, 1.0, 1.0, 0.0, 0.0, 3.0]])], 1)
    c.append(case("sort 20 with ties (rank path)", "sort", {"dim": -1, "descending": False}, {"x": big}, lambda x: (lambda r: (r.values, r.indices.double()))(torch.sort(x, stable=True, dim=-1)), grad=("x",)))
    c.append(case("sort 20 descending with ties (rank path)", "sort", {"dim": 1, "descending": True}, {"x": big}, lambda x: (lambda r: (r.values, r.indices.double()))(torch.sort(x, stable=True, dim=1, descending=True)), grad=("x",)))
    c.append(case("topk 18 of 20 (rank path)", "topk", {"k": 18, "dim": -1, "largest": True}, {"x": rand(3, 20)}, lambda x: (lambda r: (r.values, r.indices.double()))(torch.topk(x, 18, -1)), grad=("x",)))
    # Small k on rows longer than 64: repeated extremes. (PyTorch's topk orders tied values arbitrarily, so no ties
    # here; the stable sorts above pin gpugrad's tie order.)
    long = rand(2, 100)
    c.append(case("topk 4 of 100 (pick path)", "topk", {"k": 4, "dim": 1, "largest": True}, {"x": long}, lambda x: (lambda r: (r.values, r.indices.double()))(torch.topk(x, 4, 1)), grad=("x",)))
    c.append(case("topk 3 smallest of 100 (pick path)", "topk", {"k": 3, "dim": -1, "largest": False}, {"x": long}, lambda x: (lambda r: (r.values, r.indices.double()))(torch.topk(x, 3, -1, largest=False)), grad=("x",)))
    c.append(case("oneHot 5 classes", "oneHot", {"labels": [0, 3, 1, 4, 3, 0], "shape": [2, 3], "numClasses": 5}, {}, lambda: F.one_hot(torch.tensor([[0, 3, 1], [4, 3, 0]]), 5).double()))
    c.append(case("oneHot inferred classes", "oneHot", {"labels": [2, 0, 1], "shape": [3], "numClasses": -1}, {}, lambda: F.one_hot(torch.tensor([2, 0, 1])).double()))
    # In-place ops: the values (their gradients are refused while recording, as for PyTorch's leaves).
    xi, yi = rand(2, 3), rand(3)
    c.append(case("add_ alpha 0.5 broadcast", "add_", {"alpha": 0.5}, {"x": xi, "y": yi}, lambda x, y: x.clone().add_(y, alpha=0.5)))
    c.append(case("sub_", "sub_", {}, {"x": xi, "y": yi}, lambda x, y: x.clone().sub_(y)))
    c.append(case("mul_ broadcast", "mul_", {}, {"x": xi, "y": yi}, lambda x, y: x.clone().mul_(y)))
    c.append(case("div_ broadcast", "div_", {}, {"x": xi, "y": rand(3, lo=0.5, hi=2)}, lambda x, y: x.clone().div_(y)))
    c.append(case("clamp_ [-0.5, 1]", "clamp_", {"min": -0.5, "max": 1}, {"x": xi}, lambda x: x.clone().clamp_(-0.5, 1)))
    c.append(case("copy_ broadcast", "copy_", {}, {"x": xi, "y": yi}, lambda x, y: x.clone().copy_(y)))
    c.append(case("fill_ 1.25", "fill_", {"value": 1.25}, {"x": xi}, lambda x: x.clone().fill_(1.25)))
    c.append(case("zero_", "zero_", {}, {"x": xi}, lambda x: x.clone().zero_()))
    c.append(case("eye 3", "eye", {"n": 3, "m": None}, {}, lambda: torch.eye(3)))
    c.append(case("eye 2x4", "eye", {"n": 2, "m": 4}, {}, lambda: torch.eye(2, 4)))
    for s, e, st in [(0, 5, 1), (1, 2.5, 0.5), (0, 1, 0.1), (5, 0, -1.5), (-1, 1, 0.3)]:
        c.append(case(f"arange({s}, {e}, {st})", "arange", {"start": s, "end": e, "step": st}, {}, lambda s=s, e=e, st=st: torch.arange(s, e, st, dtype=torch.float32).double()))
    for s, e, n in [(0, 1, 5), (-1, 1, 7), (0, 1, 1), (2, -3, 10), (0.1, 0.7, 4)]:
        c.append(case(f"linspace({s}, {e}, {n})", "linspace", {"start": s, "end": e, "steps": n}, {}, lambda s=s, e=e, n=n: torch.linspace(s, e, n, dtype=torch.float32).double()))
    return c


def activation_cases():
    c = []
    x = rand(3, 5, lo=-4, hi=4)
    edge = torch.tensor([-6.0, -1.0, 0.0, 1.0, 6.0, -30.0, 30.0])
    c.append(case("softmax dim 1", "F.softmax", {"dim": 1}, {"x": x}, lambda x: F.softmax(x, 1), grad=("x",), k=5))
    c.append(case("sigmoid wide range", "F.sigmoid", {}, {"x": torch.cat([x.flatten(), edge])}, lambda x: torch.sigmoid(x), grad=("x",)))
    c.append(case("tanh wide range", "F.tanh", {}, {"x": torch.cat([x.flatten(), edge])}, lambda x: torch.tanh(x), grad=("x",)))
    c.append(case("gelu exact", "F.gelu", {"approximate": "none"}, {"x": torch.cat([x.flatten(), edge])}, lambda x: F.gelu(x), grad=("x",)))
    c.append(case("gelu tanh", "F.gelu", {"approximate": "tanh"}, {"x": torch.cat([x.flatten(), edge])}, lambda x: F.gelu(x, approximate="tanh"), grad=("x",)))
    c.append(case("silu", "F.silu", {}, {"x": torch.cat([x.flatten(), edge])}, lambda x: F.silu(x), grad=("x",)))
    c.append(case("leakyRelu 0.2 (slope at 0)", "F.leakyRelu", {"slope": 0.2}, {"x": torch.cat([x.flatten(), edge])}, lambda x: F.leaky_relu(x, 0.2), grad=("x",)))
    c.append(case("relu6 with the bounds", "F.relu6", {}, {"x": torch.tensor([-1.0, 0.0, 3.0, 6.0, 7.0, 5.99])}, lambda x: F.relu6(x), grad=("x",)))
    c.append(case("hardtanh [-0.5, 2]", "F.hardtanh", {"min": -0.5, "max": 2}, {"x": torch.cat([x.flatten(), torch.tensor([-0.5, 2.0])])}, lambda x: F.hardtanh(x, -0.5, 2), grad=("x",)))
    c.append(case("softplus", "F.softplus", {"beta": 1, "threshold": 20}, {"x": torch.cat([x.flatten(), edge])}, lambda x: F.softplus(x), grad=("x",)))
    c.append(case("softplus beta 2 threshold 3", "F.softplus", {"beta": 2, "threshold": 3}, {"x": torch.cat([x.flatten(), edge])}, lambda x: F.softplus(x, 2, 3), grad=("x",)))
    c.append(case("elu", "F.elu", {"alpha": 1}, {"x": torch.cat([x.flatten(), edge])}, lambda x: F.elu(x), grad=("x",)))
    c.append(case("elu alpha 0.5", "F.elu", {"alpha": 0.5}, {"x": torch.cat([x.flatten(), edge])}, lambda x: F.elu(x, 0.5), grad=("x",)))
    c.append(case("dropout eval is the identity", "F.dropout", {"p": 0.5, "training": False}, {"x": rand(2, 3)}, lambda x: F.dropout(x, 0.5, False), grad=("x",)))
    return c


def pad_resize_cases():
    c = []
    x = rand(1, 2, 3, 4)
    for name, pads, mode, value in [
        ("constant last dim", [1, 2], "constant", 0.0),
        ("constant 2 dims value 1.5", [1, 0, 2, 1], "constant", 1.5),
        ("constant negative (crop)", [-1, 1, 0, -2], "constant", 0.0),
        ("reflect 2 dims", [2, 1, 1, 2], "reflect", None),
        ("replicate 2 dims", [3, 1, 0, 2], "replicate", None),
    ]:
        p = {"pads": pads, "mode": mode, "value": value}
        fn = lambda x, pads=pads, mode=mode, value=value: F.pad(x, pads, mode=mode, value=value) if mode == "constant" else F.pad(x, pads, mode=mode)
        c.append(case(f"pad {name}", "F.pad", p, {"x": x}, fn, grad=("x",)))
    x = rand(1, 2, 3, 4)
    for name, size, sf, mode, ac in [
        ("nearest size 5x7", [5, 7], None, "nearest", None),
        ("nearest scale 2", None, 2, "nearest", None),
        ("nearest scale 1.5 (1/scale as PyTorch)", None, 1.5, "nearest", None),
        ("nearest down to 2x3", [2, 3], None, "nearest", None),
        ("bilinear scale 2", None, 2, "bilinear", False),
        ("bilinear size 5x3 align corners", [5, 3], None, "bilinear", True),
        ("bilinear size 2x7", [2, 7], None, "bilinear", False),
        ("bilinear scale 1.7 align corners", None, 1.7, "bilinear", True),
    ]:
        p = {"size": size, "scaleFactor": sf, "mode": mode, "alignCorners": ac}
        def fn(x, size=size, sf=sf, mode=mode, ac=ac):
            kw = {"size": size} if size else {"scale_factor": sf}
            return F.interpolate(x, mode=mode, align_corners=ac, **kw) if ac is not None else F.interpolate(x, mode=mode, **kw)
        c.append(case(f"interpolate {name}", "F.interpolate", p, {"x": x}, fn, grad=("x",), k=4))
    c.append(case("interpolate linear 3-D size 7", "F.interpolate", {"size": 7, "scaleFactor": None, "mode": "linear", "alignCorners": False}, {"x": rand(2, 1, 4)}, lambda x: F.interpolate(x, size=7, mode="linear", align_corners=False), grad=("x",), k=2))
    return c


def convt_cases():
    c = []
    for name, n, cin, h, w, coutg, kh, kw, s, p, op, g, d, bias in [
        ("3x3 stride 1", 1, 2, 4, 4, 3, 3, 3, (1, 1), (0, 0), (0, 0), 1, (1, 1), True),
        ("3x3 stride 2 pad 1 outputPadding 1", 2, 2, 3, 3, 2, 3, 3, (2, 2), (1, 1), (1, 1), 1, (1, 1), False),
        ("2x2 stride 2 (upsampling)", 1, 3, 2, 3, 2, 2, 2, (2, 2), (0, 0), (0, 0), 1, (1, 1), True),
        ("groups 2, 3x2 kernel, stride (2,1)", 1, 4, 3, 3, 1, 3, 2, (2, 1), (1, 0), (0, 0), 2, (1, 1), True),
        ("dilation 2 pad 1", 1, 2, 3, 4, 2, 3, 3, (1, 1), (1, 1), (0, 0), 1, (2, 2), False),
    ]:
        inputs = {"x": rand(n, cin, h, w), "weight": rand(cin, coutg, kh, kw, lo=-0.5, hi=0.5)}
        if bias:
            inputs["bias"] = rand(coutg * g)
        params = {"stride": list(s), "padding": list(p), "outputPadding": list(op), "groups": g, "dilation": list(d)}
        fn = lambda x, weight, bias=None, s=s, p=p, op=op, g=g, d=d: F.conv_transpose2d(x, weight, bias, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
        c.append(case(f"convTranspose2d {name}", "F.convTranspose2d", params, inputs, fn, grad=tuple(inputs), k=cin * kh * kw))
    return c


def norm_cases():
    c = []
    c.append(case("layerNorm last dim affine", "F.layerNorm", {"shape": [5], "eps": 1e-5}, {"x": rand(2, 3, 5), "weight": rand(5, lo=0.5, hi=1.5), "bias": rand(5)}, lambda x, weight, bias: F.layer_norm(x, [5], weight, bias, 1e-5), grad=("x", "weight", "bias"), k=5))
    c.append(case("layerNorm 2 dims no affine eps 1e-3", "F.layerNorm", {"shape": [3, 4], "eps": 1e-3}, {"x": rand(2, 3, 4)}, lambda x: F.layer_norm(x, [3, 4], eps=1e-3), grad=("x",), k=12))
    c.append(case("groupNorm 2 groups affine", "F.groupNorm", {"groups": 2, "eps": 1e-5}, {"x": rand(2, 4, 3, 2), "weight": rand(4, lo=0.5, hi=1.5), "bias": rand(4)}, lambda x, weight, bias: F.group_norm(x, 2, weight, bias, 1e-5), grad=("x", "weight", "bias"), k=12))
    c.append(case("groupNorm 1 group on [1,3,5]", "F.groupNorm", {"groups": 1, "eps": 1e-5}, {"x": rand(1, 3, 5)}, lambda x: F.group_norm(x, 1), grad=("x",), k=15))
    c.append(case("groupNorm groups = channels", "F.groupNorm", {"groups": 3, "eps": 1e-5}, {"x": rand(2, 3, 4)}, lambda x: F.group_norm(x, 3), grad=("x",), k=4))
    c.append(case("normalize p 2 dim 1", "F.normalize", {"p": 2, "dim": 1}, {"x": rand(3, 4)}, lambda x: F.normalize(x, 2.0, 1), grad=("x",), k=4))
    c.append(case("normalize p 1 dim -1 of [2,3,2]", "F.normalize", {"p": 1, "dim": -1}, {"x": rand(2, 3, 2)}, lambda x: F.normalize(x, 1.0, -1), grad=("x",), k=2))
    return c


def loss_cases():
    c = []
    for red in ["mean", "sum", "none"]:
        x, y = rand(3, 4), rand(3, 4)
        c.append(case(f"mseLoss {red}", "F.mseLoss", {"reduction": red}, {"x": x, "target": y}, lambda x, target, red=red: F.mse_loss(x, target, reduction=red), grad=("x", "target"), k=12))
        c.append(case(f"l1Loss {red}", "F.l1Loss", {"reduction": red}, {"x": x, "target": y}, lambda x, target, red=red: F.l1_loss(x, target, reduction=red), grad=("x", "target"), k=12))
        c.append(case(f"smoothL1Loss {red}", "F.smoothL1Loss", {"reduction": red, "beta": 1.0}, {"x": x, "target": y}, lambda x, target, red=red: F.smooth_l1_loss(x, target, reduction=red), grad=("x", "target"), k=12))
    c.append(case("smoothL1Loss beta 0.5", "F.smoothL1Loss", {"reduction": "mean", "beta": 0.5}, {"x": rand(2, 5), "target": rand(2, 5)}, lambda x, target: F.smooth_l1_loss(x, target, beta=0.5), grad=("x", "target"), k=10))
    p, t, w = rand(2, 3, lo=0.05, hi=0.95), rand(2, 3, lo=0, hi=1), rand(3, lo=0.5, hi=2)
    for red in ["mean", "sum", "none"]:
        c.append(case(f"binaryCrossEntropy {red}", "F.binaryCrossEntropy", {"reduction": red}, {"x": p, "target": t}, lambda x, target, red=red: F.binary_cross_entropy(x, target, reduction=red), grad=("x",), k=6))
        c.append(case(f"binaryCrossEntropyWithLogits {red}", "F.bceWithLogits", {"reduction": red}, {"x": rand(2, 3, lo=-30, hi=30), "target": t}, lambda x, target, red=red: F.binary_cross_entropy_with_logits(x, target, reduction=red), grad=("x", "target"), k=6))
    c.append(case("binaryCrossEntropy weight, log clamped at 0 and 1", "F.binaryCrossEntropyW", {"reduction": "sum"}, {"x": torch.tensor([[0.0, 1.0, 0.5], [0.2, 0.7, 1.0]]), "target": torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]), "weight": w}, lambda x, target, weight: F.binary_cross_entropy(x, target, weight, reduction="sum"), k=6))
    c.append(case("binaryCrossEntropyWithLogits weight and posWeight", "F.bceWithLogitsW", {"reduction": "mean"}, {"x": rand(2, 3, lo=-4, hi=4), "target": t, "weight": rand(2, 1, lo=0.5, hi=2), "posWeight": w}, lambda x, target, weight, posWeight: F.binary_cross_entropy_with_logits(x, target, weight, pos_weight=posWeight), grad=("x", "target"), k=6))
    logp = F.log_softmax(rand(4, 5), 1)
    tg = torch.tensor([1.0, 0, 4, 2])
    wc = rand(5, lo=0.2, hi=2)
    for red in ["mean", "sum", "none"]:
        c.append(case(f"nllLoss {red}", "F.nllLoss", {"reduction": red, "ignoreIndex": -100}, {"x": logp, "target": tg}, lambda x, target, red=red: F.nll_loss(x, target.long(), reduction=red), grad=("x",), k=20))
    c.append(case("nllLoss weight ignoreIndex 2", "F.nllLossW", {"reduction": "mean", "ignoreIndex": 2}, {"x": logp, "target": tg, "weight": wc}, lambda x, target, weight: F.nll_loss(x, target.long(), weight, ignore_index=2), grad=("x",), k=20))
    logits = rand(4, 5, lo=-3, hi=3)
    for name, kw in [
        ("plain", {}),
        ("labelSmoothing 0.1", {"label_smoothing": 0.1}),
        ("weight", {"weight": wc}),
        ("weight + labelSmoothing 0.2 + ignoreIndex 0", {"weight": wc, "label_smoothing": 0.2, "ignore_index": 0}),
        ("sum", {"reduction": "sum"}),
        ("none + labelSmoothing 0.3", {"reduction": "none", "label_smoothing": 0.3}),
        ("ignoreIndex 4 none", {"reduction": "none", "ignore_index": 4}),
    ]:
        p = {"weight": "weight" in kw, "labelSmoothing": kw.get("label_smoothing"), "ignoreIndex": kw.get("ignore_index"), "reduction": kw.get("reduction")}
        inputs = {"x": logits, "target": tg}
        if "weight" in kw:
            inputs["weight"] = wc
        fn = lambda x, target, weight=None, kw=kw: F.cross_entropy(x, target.long(), **{**kw, **({"weight": weight} if weight is not None else {})})
        c.append(case(f"crossEntropy {name}", "F.crossEntropy", p, inputs, fn, grad=("x",), k=20))
    # N-D logits [N, C, H, W] with class targets [N, H, W], and probability targets.
    x4 = rand(2, 3, 2, 2)
    t4 = ints(3, 2, 2, 2)
    c.append(case("crossEntropy N-D logits [2,3,2,2] labelSmoothing 0.1", "F.crossEntropy", {"weight": False, "labelSmoothing": 0.1, "ignoreIndex": None, "reduction": None}, {"x": x4, "target": t4}, lambda x, target: F.cross_entropy(x, target.long(), label_smoothing=0.1), grad=("x",), k=24))
    c.append(case("crossEntropy N-D logits none + weight", "F.crossEntropy", {"weight": True, "labelSmoothing": None, "ignoreIndex": None, "reduction": "none"}, {"x": x4, "target": t4, "weight": wc[:3]}, lambda x, target, weight: F.cross_entropy(x, target.long(), weight, reduction="none"), grad=("x",), k=3))
    probs = F.softmax(rand(4, 5), 1)
    c.append(case("crossEntropy probability targets", "F.crossEntropy", {"weight": False, "labelSmoothing": None, "ignoreIndex": None, "reduction": None}, {"x": logits, "target": probs}, lambda x, target: F.cross_entropy(x, target), grad=("x", "target"), k=20))
    c.append(case("crossEntropy probability targets weight + smoothing 0.2 sum", "F.crossEntropy", {"weight": True, "labelSmoothing": 0.2, "ignoreIndex": None, "reduction": "sum"}, {"x": logits, "target": probs, "weight": wc}, lambda x, target, weight: F.cross_entropy(x, target, weight, label_smoothing=0.2, reduction="sum"), grad=("x", "target"), k=20))
    return c


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    write("tensor_ops.json", tensor_ops())
    write("activations.json", activation_cases())
    write("pad_resize.json", pad_resize_cases())
    write("conv_transpose.json", convt_cases())
    write("norms.json", norm_cases())
    write("losses.json", loss_cases())
    print("wrote", sorted(os.listdir(OUT)))
