#!/usr/bin/python3
# Exports gpugrad's ResNet-50 (or ResNet-18) weights (a .safetensors file) through torchvision's model of the
# same name to ONNX (opset 13) and writes PyTorch's logits on a given input, the reference the benchmark's peers
# are checked against.
#
# usage: export_onnx.py WEIGHTS.safetensors INPUT.f32 N,C,H,W OUTDIR [MODEL]
#   MODEL is resnet50 (default) or resnet18.
#   INPUT.f32 holds raw little-endian float32 values in NCHW order.
#   writes OUTDIR/MODEL.onnx and OUTDIR/logits-torch.f32 (raw float32, [N, 1000]).
import json
import struct
import sys

import torch
import torchvision

DTYPES = {'F32': torch.float32, 'F64': torch.float64, 'F16': torch.float16, 'BF16': torch.bfloat16,
          'I64': torch.int64, 'I32': torch.int32}


def read_safetensors(path):
    """Own reader (the Python `safetensors` package is not installed on Debian): 8-byte header length,
    JSON header, then the raw little-endian data."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    base = 8 + n
    out = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        start, end = entry['data_offsets']
        buf = bytearray(raw[base + start:base + end])
        t = torch.frombuffer(buf, dtype=DTYPES[entry['dtype']]) if end > start else torch.empty(0, dtype=DTYPES[entry['dtype']])
        out[name] = t.reshape(entry['shape']).clone()
    return out


MODELS = {'resnet50': torchvision.models.resnet50, 'resnet18': torchvision.models.resnet18}


def load_resnet(name, weights_path):
    """torchvision's model `name` with gpugrad's tensors; every key must match except num_batches_tracked's dtype."""
    model = MODELS[name]()
    state = model.state_dict()
    theirs = read_safetensors(weights_path)
    missing = [k for k in state if k not in theirs]
    extra = [k for k in theirs if k not in state]
    if missing or extra:
        raise SystemExit(f'export_onnx: key mismatch: missing {missing[:5]}, unexpected {extra[:5]}')
    fixed = {}
    for k, v in state.items():
        t = theirs[k]
        if tuple(t.shape) != tuple(v.shape):
            raise SystemExit(f'export_onnx: {k} has shape {tuple(t.shape)}, torchvision wants {tuple(v.shape)}')
        fixed[k] = t.to(v.dtype)
    model.load_state_dict(fixed)
    return model.eval()


def load_resnet50(weights_path):
    """The original entry point (bench/peers/torch_bench.py uses it)."""
    return load_resnet('resnet50', weights_path)


def read_input(path, shape):
    with open(path, 'rb') as f:
        buf = bytearray(f.read())
    return torch.frombuffer(buf, dtype=torch.float32).reshape(shape).clone()


def main():
    if len(sys.argv) not in (5, 6):
        raise SystemExit('usage: export_onnx.py WEIGHTS INPUT N,C,H,W OUTDIR [resnet50|resnet18]')
    weights, inp, shape, outdir = sys.argv[1:5]
    name = sys.argv[5] if len(sys.argv) == 6 else 'resnet50'
    if name not in MODELS:
        raise SystemExit(f'export_onnx: unknown model {name!r}; expected one of {sorted(MODELS)}')
    shape = [int(s) for s in shape.split(',')]
    torch.set_num_threads(2)
    model = load_resnet(name, weights)
    x = read_input(inp, shape)
    with torch.no_grad():
        logits = model(x)
    with open(f'{outdir}/logits-torch.f32', 'wb') as f:
        f.write(logits.contiguous().numpy().astype('<f4').tobytes())
    torch.onnx.export(model, x, f'{outdir}/{name}.onnx', opset_version=13,
                      input_names=['input'], output_names=['logits'])
    print(json.dumps({'onnx': f'{outdir}/{name}.onnx', 'logitsShape': list(logits.shape)}))


if __name__ == '__main__':
    main()
