#!/usr/bin/python3
"""Writes the NumPy fixtures of tests/data (small .npy and .npz files written by numpy itself).

Run with Debian's interpreter, which has python3-numpy:

    /usr/bin/python3 tests/data/make_numpy_fixtures.py

Beside them goes numpy.json: for every file, each tensor's name, the dtype NfnTensor reports,
shape, and values as numpy converts them to float32, flattened in C order.
"""
import io
import json
import os

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def ramp(shape, dtype, scale=0.37, offset=-1.5):
    """Distinct values, so a transposed or shifted read cannot pass."""
    n = int(np.prod(shape)) if shape else 1
    return (np.arange(n, dtype=np.float64) * scale + offset).reshape(shape).astype(dtype)


def entry(name, array, dtype_name):
    return {
        "name": name,
        "dtype": dtype_name,
        "shape": list(array.shape),
        "values": [float(v) for v in np.ascontiguousarray(array).astype(np.float32).ravel(order="C")],
    }


def write_npy(file, array, dtype_name, version=None):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version)
    with open(os.path.join(HERE, file), "wb") as f:
        f.write(buffer.getvalue())
    return {"tensors": [entry(file[: -len(".npy")], array, dtype_name)]}


def main():
    expected = {}
    expected["npy_f32.npy"] = write_npy("npy_f32.npy", ramp((3, 4), "<f4"), "F32")
    # Fortran order, float64 with values float32 must round.
    f64 = np.asfortranarray(ramp((2, 3, 4), "<f8", scale=0.1, offset=-1.2345678912345))
    expected["npy_f64_fortran.npy"] = write_npy("npy_f64_fortran.npy", f64, "F64")
    f16 = ramp((5,), "<f2", scale=0.125)
    f16[4] = np.float16(6.0e-8)  # a subnormal half
    expected["npy_f16.npy"] = write_npy("npy_f16.npy", f16, "F16")
    expected["npy_f32_big_endian.npy"] = write_npy("npy_f32_big_endian.npy", ramp((2, 3), ">f4"), "F32")
    expected["npy_f32_fortran_2d.npy"] = write_npy(
        "npy_f32_fortran_2d.npy", np.asfortranarray(ramp((3, 5), "<f4")), "F32")
    expected["npy_u1.npy"] = write_npy("npy_u1.npy", (np.arange(16) * 17 % 256).astype("|u1").reshape(4, 4), "F32")
    expected["npy_i4.npy"] = write_npy("npy_i4.npy", (np.arange(6) * 1000 - 2500).astype("<i4").reshape(2, 3), "F32")
    i8 = np.array([-(2 ** 40), -1, 0, 2 ** 24, 2 ** 24 + 2], dtype=">i8")
    expected["npy_i8_big_endian.npy"] = write_npy("npy_i8_big_endian.npy", i8, "F32")
    expected["npy_scalar.npy"] = write_npy("npy_scalar.npy", np.array(2.5, dtype="<f4"), "F32")
    expected["npy_empty.npy"] = write_npy("npy_empty.npy", np.zeros((0, 3), dtype="<f4"), "F32")
    expected["npy_v2.npy"] = write_npy("npy_v2.npy", ramp((2, 2), "<f4"), "F32", version=(2, 0))
    expected["npy_v3.npy"] = write_npy("npy_v3.npy", ramp((2, 2), "<f4"), "F32", version=(3, 0))

    # A 2→4→1 MLP state dict, as np.savez(**state_dict) writes it: stored and deflated.
    state = {
        "net.0.weight": ramp((4, 2), "<f4", scale=0.21, offset=-0.8),
        "net.0.bias": ramp((4,), "<f4", scale=0.1, offset=-0.2),
        "net.2.weight": ramp((1, 4), "<f4", scale=-0.3, offset=0.45),
        "net.2.bias": ramp((1,), "<f4", scale=0.0, offset=0.05),
    }
    np.savez(os.path.join(HERE, "mlp_stored.npz"), **state)
    np.savez_compressed(os.path.join(HERE, "mlp_deflated.npz"), **state)
    tensors = [entry(name, array, "F32") for name, array in state.items()]
    expected["mlp_stored.npz"] = {"tensors": tensors}
    expected["mlp_deflated.npz"] = {"tensors": tensors}
    # Mixed dtypes in one deflated archive.
    mixed = {"a": ramp((3,), "<f8"), "b": ramp((2, 2), "<f2", scale=0.5), "c": np.arange(4, dtype="<i8")}
    np.savez_compressed(os.path.join(HERE, "mixed_deflated.npz"), **mixed)
    expected["mixed_deflated.npz"] = {
        "tensors": [entry("a", mixed["a"], "F64"), entry("b", mixed["b"], "F16"), entry("c", mixed["c"], "F32")]
    }

    with open(os.path.join(HERE, "numpy.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
