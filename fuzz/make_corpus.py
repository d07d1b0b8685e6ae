#!/usr/bin/python3
"""Writes the seed corpora of fuzz/corpus/<reader>/: small valid files and a few broken ones.

    /usr/bin/python3 fuzz/make_corpus.py      (Debian's interpreter: it has numpy)

Valid .npy/.npz seeds come from numpy itself, safetensors seeds from tests/data/fixtures. An
idx seed is what fuzz_readers.c expects: a limit byte, the images file's length (u16 LE),
then the images file and the labels file.
"""
import gzip
import io
import os
import shutil
import struct
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "data", "fixtures")


def put(reader, name, data):
    folder = os.path.join(HERE, "corpus", reader)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def npy_bytes(array, version=None):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


def npz_bytes(arrays, compressed):
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def idx_pair(count, limit=0, compress=False, magic=0x803):
    pixels = bytes((k * 7) % 256 for k in range(count * 784))
    images = struct.pack(">IIII", magic, count, 28, 28) + pixels
    labels = struct.pack(">II", 0x801, count) + bytes(k % 10 for k in range(count))
    if compress:
        images, labels = gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)
    return bytes([limit]) + struct.pack("<H", len(images)) + images + labels


def main():
    for reader in ("safetensors", "npy", "npz", "idx"):
        shutil.rmtree(os.path.join(HERE, "corpus", reader), ignore_errors=True)

    for name in ("dtypes.safetensors", "mlp.safetensors", "siren.safetensors"):
        with open(os.path.join(FIXTURES, name), "rb") as f:
            put("safetensors", name, f.read())
    put("safetensors", "empty-header", struct.pack("<Q", 2) + b"{}")
    put("safetensors", "short", struct.pack("<Q", 64) + b'{"a":')

    put("npy", "f32.npy", npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3)))
    put("npy", "f64-fortran.npy", npy_bytes(np.asfortranarray(np.arange(12, dtype=">f8").reshape(3, 4))))
    put("npy", "f16.npy", npy_bytes(np.arange(5, dtype="<f2")))
    put("npy", "u1.npy", npy_bytes(np.arange(4, dtype="|u1")))
    put("npy", "i8-v2.npy", npy_bytes(np.array([-3, 2 ** 30], dtype="<i8"), version=(2, 0)))
    put("npy", "scalar-v3.npy", npy_bytes(np.array(1.5, dtype="<f4"), version=(3, 0)))
    put("npy", "truncated.npy", npy_bytes(np.arange(6, dtype="<f4"))[:-3])

    state = {"net.0.weight": np.ones((3, 2), "<f4"), "net.0.bias": np.zeros(3, "<f4"),
             "net.2.weight": np.arange(3, dtype="<f8").reshape(1, 3), "net.2.bias": np.ones(1, "<f2")}
    put("npz", "stored.npz", npz_bytes(state, False))
    put("npz", "deflated.npz", npz_bytes(state, True))
    put("npz", "one.npz", npz_bytes({"x": np.arange(3, dtype="<i4")}, True))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        pass
    put("npz", "empty.npz", buffer.getvalue())
    put("npz", "cut.npz", npz_bytes(state, True)[:-40])

    put("idx", "raw", idx_pair(2))
    put("idx", "gzip", idx_pair(2, compress=True))
    put("idx", "limit", idx_pair(3, limit=2, compress=True))
    put("idx", "bad-magic", idx_pair(1, magic=0x801))
    put("idx", "short", idx_pair(2)[:-5])


if __name__ == "__main__":
    main()
