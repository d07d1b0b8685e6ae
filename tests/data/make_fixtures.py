#!/usr/bin/python3
"""Writes the safetensors fixtures of tests/data from real PyTorch tensors.

Run with Debian's interpreter (it has python3-torch 1.13, which predates the safetensors
package, so the format is written here by hand: u64 LE header length, JSON header padded with
spaces to a multiple of 8, tensors contiguous in header order):

    /usr/bin/python3 tests/data/make_fixtures.py

Beside each NAME.safetensors goes NAME.json with what a reader must find: every tensor's
dtype, shape and values as PyTorch converts them to float32 (non-finite values as strings),
the metadata, and for networks a few inputs with PyTorch's outputs.
"""
import json
import math
import os
import struct

import torch
from torch import nn

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}


def tensor_bytes(t):
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def encode_float(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x  # a float32 value as a double: repr is exact


def write_fixture(name, tensors, metadata=None, extra=None):
    """tensors: dict name -> torch tensor; written in sorted name order (as the reference
    writer does for one dtype), so "net.10" precedes "net.2" in the file."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for key in sorted(tensors):
        t = tensors[key]
        data = tensor_bytes(t)
        header[key] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                       "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path = os.path.join(HERE, name + ".safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    expected = {
        "metadata": metadata or {},
        "tensors": [{"name": key, "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                     "values": [encode_float(v) for v in t.detach().float().flatten().tolist()]}
                    for key, t in ((k, tensors[k]) for k in sorted(tensors))],
    }
    if extra:
        expected.update(extra)
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    for suffix in (".safetensors", ".json"):
        size = os.path.getsize(os.path.join(HERE, name + suffix))
        assert size < 20000, (name + suffix, size)


def dtypes_fixture():
    special = [0.0, -0.0, 1.0, -2.5, float("inf"), float("-inf"), float("nan"), 1e-3, 3.14159265358979]
    half = torch.tensor(special + [65504.0, 6.103515625e-05,  # largest normal, smallest normal
                                   5.960464477539063e-08, 2.9802322387695312e-08 * 3,  # subnormals
                                   -1.1920928955078125e-07, 1e-6], dtype=torch.float16)
    bf16 = torch.tensor(special + [3.3895313892515355e38, 1.0e-40, -7.0e-39], dtype=torch.bfloat16)
    f64 = torch.tensor(special + [1.0 + 2.0 ** -30, 1e300, -1e-300, 0.1, 1.0 / 3.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    f32 = torch.randn(3, 4, 2, generator=gen, dtype=torch.float32)
    scalar = torch.tensor(7.25, dtype=torch.float32)
    empty = torch.zeros(0, 3, dtype=torch.float16)
    write_fixture("dtypes", {"half": half.reshape(3, 5), "brain": bf16, "double": f64,
                             "single": f32, "scalar": scalar, "empty": empty},
                  metadata={"format": "pt", "note": "quote \" backslash \\ tab \t é ✓"})


def io_pairs(model, x):
    with torch.no_grad():
        y = model(x)
    return {"inputs": x.flatten().tolist(), "outputs": y.flatten().tolist(), "n_inputs": x.shape[0]}


def mlp_fixture():
    torch.manual_seed(2)
    widths = [3, 8, 8, 8, 8, 8, 2]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(nn.Tanh())
    model = nn.Sequential(*layers)  # Linear at 0, 2, …, 10: natural order matters
    x = torch.randn(4, 3)
    extra = io_pairs(model, x)
    extra["layer_order"] = [k for k in model.state_dict() if k.endswith(".weight")]
    extra["widths"] = widths
    write_fixture("mlp", dict(model.state_dict()), metadata={"nfn.activation": "tanh"}, extra=extra)


class Siren(nn.Module):
    def __init__(self, widths, omega0):
        super().__init__()
        self.omega0 = omega0
        self.net = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        with torch.no_grad():
            for i, layer in enumerate(self.net):
                bound = 1 / widths[0] if i == 0 else math.sqrt(6 / widths[i]) / omega0
                layer.weight.uniform_(-bound, bound)

    def forward(self, x):
        for layer in self.net[:-1]:
            x = torch.sin(self.omega0 * layer(x))
        return self.net[-1](x)


def siren_fixture():
    torch.manual_seed(3)
    widths = [2, 16, 16, 1]
    model = Siren(widths, 30.0)
    x = torch.rand(5, 2) * 2 - 1
    extra = io_pairs(model, x)
    extra["layer_order"] = ["net.0.weight", "net.1.weight", "net.2.weight"]
    extra["widths"] = widths
    write_fixture("siren", dict(model.state_dict()),
                  metadata={"nfn.arch": "siren", "nfn.omega0": "30", "image": "cameraman", "psnr": "31.5"},
                  extra=extra)


def cnn_fixture():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    x = torch.randn(2, 1, 9, 9)
    extra = io_pairs(model, x)
    extra["layer_order"] = ["0.weight", "2.weight", "6.weight", "8.weight"]
    extra["widths"] = [1, 4, 6, 5, 3]
    # Mixed dtypes as a half-precision export might leave them: conv in F64, dense in BF16/F16.
    state = model.state_dict()
    tensors = {k: (v.double() if k.startswith(("0.", "2.")) else v.bfloat16() if k.startswith("6.") else v.half())
               for k, v in state.items()}
    # Outputs from the weights as stored, so the C side can compare against them.
    with torch.no_grad():
        for k, v in tensors.items():
            state[k].copy_(v.float())
        extra.update(io_pairs(model, x))
    write_fixture("cnn", tensors, metadata={"nfn.conv": "2,1,9,9"}, extra=extra)


if __name__ == "__main__":
    os.makedirs(HERE, exist_ok=True)
    dtypes_fixture()
    mlp_fixture()
    siren_fixture()
    cnn_fixture()
    for name in sorted(os.listdir(HERE)):
        print(name, os.path.getsize(os.path.join(HERE, name)))
