#!/usr/bin/python3
"""Checks every operator of `voxnn op` against PyTorch (torch.nn.functional, PyTorch 1.13).

For each name that `voxnn op --list` prints, and each case of CASES below, it writes random inputs
(tensor data at unaligned offsets, as any safetensors writer may produce), runs
    voxnn op NAME --config CONFIG --input IN --output OUT             (forward)
    voxnn op NAME --config CONFIG --input IN --output OUT --backward  (IN also holds gout)
in float64 and float32, runs the same call in PyTorch in the same dtype, and prints the largest
absolute difference per op: of the outputs (out, out_indices, new_running_*) and of the gradients.
An op the table has no case for, or an error above the tolerance, fails the run (exit status 1).

    /usr/bin/python3 tools/check_ops.py [--voxnn build/tools/voxnn] [--only conv3d,pad] [--seed 0]

Tolerance: float64 1e-9 and float32 1e-4, each relative to max(1, the largest reference magnitude);
integer outputs (indices) must match exactly."""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import warnings

import torch
import torch.nn.functional as F

DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64"}
NUMPY_OF = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64}
TOL = {torch.float64: 1e-9, torch.float32: 1e-4}


# ---- safetensors, unpadded --------------------------------------------------------------------------

def write_safetensors(path, tensors):
    """No header padding and tensors packed in order: data offsets are generally unaligned."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().reshape(-1).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    if len(text) % 8 == 0:
        text += b" "
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        buf = bytearray(raw[8 + n + begin:8 + n + end])
        out[name] = torch.frombuffer(buf, dtype=NUMPY_OF[e["dtype"]]).reshape(e["shape"]).clone() if buf else \
            torch.zeros(e["shape"], dtype=NUMPY_OF[e["dtype"]])
    return out


# ---- the cases ------------------------------------------------------------------------------------------

def randn(*shape):
    return torch.randn(shape, dtype=torch.float64)


def positive(*shape):
    return torch.rand(shape, dtype=torch.float64) + 0.5


def voxel_shuffle(input, upscale_factor):
    r = upscale_factor
    *lead, c, d, h, w = input.shape
    y = input.reshape(-1, c // r**3, r, r, r, d, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
    return y.reshape(*lead, c // r**3, d * r, h * r, w * r)


def voxel_unshuffle(input, downscale_factor):
    r = downscale_factor
    *lead, c, d, h, w = input.shape
    y = input.reshape(-1, c, d // r, r, h // r, r, w // r, r).permute(0, 1, 3, 5, 7, 2, 4, 6)
    return y.reshape(*lead, c * r**3, d // r, h // r, w // r)


def unpool_inputs(nd, shape, kernel, stride, **extra):
    """A pooled input and PyTorch's indices for max_unpool{nd}d."""
    pool = getattr(F, f"max_pool{nd}d")
    values, indices = pool(randn(*shape), kernel, stride, return_indices=True, **extra)
    return {"input": randn(*values.shape), "indices": indices}


def case(config, **tensors):
    return (config, tensors)


# name -> [(config, {tensor name: tensor})]; tensors are drawn once, in this order, from the seed.
def make_cases():
    return {
        "conv1d": [case({"stride": 2, "padding": 1}, input=randn(2, 3, 9), weight=randn(4, 3, 3), bias=randn(4))],
        "conv2d": [case({"padding": "same", "dilation": [1, 2]}, input=randn(2, 3, 7, 6), weight=randn(4, 3, 3, 2),
                        bias=randn(4))],
        "conv3d": [case({"stride": [1, 2, 2], "padding": [1, 0, 1]}, input=randn(2, 2, 5, 6, 7),
                        weight=randn(3, 2, 3, 3, 3), bias=randn(3)),
                   case({"groups": 2, "padding": 1, "dilation": 2}, input=randn(1, 4, 6, 5, 6),
                        weight=randn(4, 2, 3, 3, 3))],
        "conv_transpose1d": [case({"stride": 2, "padding": 1, "output_padding": 1}, input=randn(2, 3, 5),
                                  weight=randn(3, 2, 3), bias=randn(2))],
        "conv_transpose2d": [case({"groups": 2, "stride": [2, 1], "dilation": 2}, input=randn(1, 4, 4, 5),
                                  weight=randn(4, 1, 3, 3), bias=randn(2))],
        "conv_transpose3d": [case({"stride": 2, "padding": [0, 1, 0]}, input=randn(1, 2, 3, 4, 3),
                                  weight=randn(2, 3, 2, 3, 2), bias=randn(3))],
        "linear": [case({}, input=randn(2, 3, 5), weight=randn(4, 5), bias=randn(4))],

        "max_pool1d": [case({"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True}, input=randn(2, 3, 11))],
        "max_pool2d": [case({"kernel_size": [3, 2], "dilation": [1, 2], "ceil_mode": True}, input=randn(2, 3, 9, 8))],
        "max_pool3d": [case({"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True},
                            input=randn(2, 2, 7, 6, 5)),
                       case({"kernel_size": 2}, input=randn(2, 5, 6, 4))],
        "avg_pool1d": [case({"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
                            input=randn(2, 3, 10))],
        "avg_pool2d": [case({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "divisor_override": 5},
                            input=randn(2, 3, 7, 8))],
        "avg_pool3d": [case({"kernel_size": [2, 3, 2], "padding": [1, 1, 0], "ceil_mode": True, "stride": None},
                            input=randn(1, 2, 6, 7, 5))],
        "adaptive_avg_pool1d": [case({"output_size": 4}, input=randn(2, 3, 10))],
        "adaptive_avg_pool2d": [case({"output_size": [4, None]}, input=randn(2, 3, 9, 7))],
        "adaptive_avg_pool3d": [case({"output_size": [3, 4, 2]}, input=randn(1, 2, 7, 6, 5))],
        "adaptive_max_pool1d": [case({"output_size": 3, "return_indices": True}, input=randn(2, 3, 10))],
        "adaptive_max_pool2d": [case({"output_size": [4, 3]}, input=randn(2, 3, 9, 7))],
        "adaptive_max_pool3d": [case({"output_size": [3, None, 2], "return_indices": True}, input=randn(1, 2, 7, 6, 5))],
        "max_unpool1d": [case({"kernel_size": 2, "stride": 2}, **unpool_inputs(1, (2, 3, 10), 2, 2))],
        "max_unpool2d": [case({"kernel_size": 3, "stride": 2, "padding": 1, "output_size": [7, 8]},
                              **unpool_inputs(2, (2, 3, 7, 8), 3, 2, padding=1))],
        "max_unpool3d": [case({"kernel_size": 2}, **unpool_inputs(3, (1, 2, 4, 6, 4), 2, 2))],

        "batch_norm": [case({"training": True, "momentum": 0.2, "eps": 1e-4}, input=randn(4, 3, 5, 6),
                            running_mean=randn(3), running_var=positive(3), weight=randn(3), bias=randn(3)),
                       case({"training": False}, input=randn(2, 3, 5), running_mean=randn(3),
                            running_var=positive(3), weight=randn(3), bias=randn(3)),
                       case({"training": True}, input=randn(3, 4), running_mean=None, running_var=None)],
        "instance_norm": [case({"use_input_stats": True, "momentum": 0.3}, input=randn(2, 3, 5, 4),
                               running_mean=randn(3), running_var=positive(3), weight=randn(3), bias=randn(3))],
        "group_norm": [case({"num_groups": 3, "eps": 1e-3}, input=randn(2, 6, 5, 4), weight=randn(6), bias=randn(6))],
        "layer_norm": [case({"normalized_shape": [4, 5]}, input=randn(2, 3, 4, 5), weight=randn(4, 5),
                            bias=randn(4, 5))],

        "interpolate": [case({"scale_factor": 1.7, "mode": "trilinear", "align_corners": False},
                             input=randn(2, 2, 4, 5, 3)),
                        case({"size": 8, "mode": "linear", "align_corners": True}, input=randn(2, 3, 5)),
                        case({"scale_factor": [2.0, 1.5], "mode": "nearest"}, input=randn(1, 2, 4, 5)),
                        case({"size": [7, 9], "mode": "bilinear", "align_corners": False}, input=randn(1, 2, 4, 5)),
                        case({"size": [5, 7, 4], "mode": "nearest-exact"}, input=randn(1, 2, 3, 4, 5))],
        "pad": [case({"pad": [1, 2, 0, 1, 2, 1], "mode": "reflect"}, input=randn(2, 3, 4, 5, 6)),
                case({"pad": [2, -1, 1, 3], "value": 0.5}, input=randn(2, 3, 4, 5)),
                case({"pad": [1, 1, 2, 0], "mode": "circular"}, input=randn(2, 3, 4, 5)),
                case({"pad": [3, 1], "mode": "replicate"}, input=randn(2, 3, 4))],

        "dropout": [case({"p": 0.3, "training": False}, input=randn(2, 3, 4))],
        "dropout1d": [case({"p": 1.0, "training": True}, input=randn(2, 3, 4))],
        "dropout2d": [case({"p": 0.5, "training": False}, input=randn(2, 3, 4, 5))],
        "dropout3d": [case({"p": 1.0}, input=randn(2, 3, 4, 5, 2))],
        "relu": [case({}, input=randn(2, 3, 4, 5))],
        "leaky_relu": [case({"negative_slope": 0.2}, input=randn(2, 3, 4, 5))],
        "prelu": [case({}, input=randn(2, 3, 4, 5), weight=randn(3))],
        "elu": [case({"alpha": 0.7}, input=randn(2, 3, 4, 5))],
        "gelu": [case({}, input=randn(2, 3, 4, 5)), case({"approximate": "tanh"}, input=randn(2, 3, 4, 5))],
        "silu": [case({}, input=randn(2, 3, 4, 5))],
        "sigmoid": [case({}, input=randn(2, 3, 4, 5))],
        "tanh": [case({}, input=randn(2, 3, 4, 5))],
        "softmax": [case({"dim": 1}, input=randn(2, 3, 4, 5))],
        "log_softmax": [case({"dim": -1}, input=randn(2, 3, 4, 5))],
        "pixel_shuffle": [case({"upscale_factor": 2}, input=randn(2, 8, 3, 4))],
        "pixel_unshuffle": [case({"downscale_factor": 2}, input=randn(2, 2, 4, 6))],
        "voxel_shuffle": [case({"upscale_factor": 2}, input=randn(2, 16, 2, 3, 2))],
        "voxel_unshuffle": [case({"downscale_factor": 2}, input=randn(1, 2, 4, 2, 6))],
    }


CUSTOM = {"voxel_shuffle": voxel_shuffle, "voxel_unshuffle": voxel_unshuffle}
NOT_DIFFERENTIABLE = {"running_mean", "running_var", "indices"}


# ---- PyTorch's side ---------------------------------------------------------------------------------------

def reference(name, config, tensors, gout=None):
    """Outputs (and gradients given gout) of the PyTorch call, by voxnn op's names."""
    kw = {k: (v.clone() if v is not None else None) for k, v in tensors.items()}
    diff = [k for k, v in kw.items() if v is not None and v.is_floating_point() and k not in NOT_DIFFERENTIABLE]
    for k in diff:
        kw[k].requires_grad_(gout is not None)
    fn = CUSTOM.get(name) or getattr(F, name)
    with torch.set_grad_enabled(gout is not None):
        result = fn(**kw, **config)
    outs = {}
    if isinstance(result, tuple):
        outs["out"], outs["out_indices"] = result
    else:
        outs["out"] = result
    if name in ("batch_norm", "instance_norm") and kw.get("running_mean") is not None and \
            config.get("training", config.get("use_input_stats", name == "instance_norm")):
        outs["new_running_mean"], outs["new_running_var"] = kw["running_mean"], kw["running_var"]
    if gout is not None and diff:
        grads = torch.autograd.grad(outs["out"], [kw[k] for k in diff], gout, allow_unused=True)
        for k, g in zip(diff, grads):
            outs["grad_" + k] = g if g is not None else torch.zeros_like(kw[k])
    return {k: v.detach() for k, v in outs.items()}


# ---- running both ------------------------------------------------------------------------------------------

def run_voxnn(exe, name, config, tensors, workdir, backward):
    cfg = os.path.join(workdir, "config.json")
    inp = os.path.join(workdir, "in.safetensors")
    out = os.path.join(workdir, "out.safetensors")
    with open(cfg, "w") as f:
        json.dump(config, f)
    write_safetensors(inp, tensors)
    if os.path.exists(out):
        os.remove(out)
    cmd = [exe, "op", name, "--config", cfg, "--input", inp, "--output", out] + (["--backward"] if backward else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip() or f"exit status {p.returncode}")
    return read_safetensors(out)


def max_error(got, want, keys):
    """(largest |got - want| over keys, largest |want|); a missing key or a shape mismatch is inf."""
    err, scale = 0.0, 0.0
    for k in keys:
        if k not in got or got[k].shape != want[k].shape:
            return float("inf"), 0.0
        if want[k].numel() == 0:
            continue
        if not want[k].is_floating_point():
            err = max(err, 0.0 if torch.equal(got[k], want[k]) else float("inf"))
            continue
        err = max(err, (got[k].double() - want[k].double()).abs().max().item())
        scale = max(scale, want[k].double().abs().max().item())
    return err, scale


def check_case(exe, name, config, tensors, workdir):
    """{(dtype, 'fwd'|'bwd'): (error, scale)} for one case."""
    results = {}
    for dtype in (torch.float64, torch.float32):
        # None (absent) tensors go to PyTorch as None and are left out of voxnn's input file
        typed = {k: v.to(dtype) if v is not None and v.is_floating_point() else v for k, v in tensors.items()}
        present = {k: v for k, v in typed.items() if v is not None}
        want = reference(name, config, typed)
        got = run_voxnn(exe, name, config, present, workdir, backward=False)
        extra = sorted(set(got) - set(want))
        if extra:
            raise RuntimeError(f"unexpected outputs {extra}")
        results[(dtype, "fwd")] = max_error(got, want, want.keys())

        gout = torch.randn(want["out"].shape, dtype=torch.float64).to(dtype)
        want = reference(name, config, typed, gout)
        got = run_voxnn(exe, name, config, {**present, "gout": gout}, workdir, backward=True)
        grads = [k for k in want if k.startswith("grad_")]
        missing = sorted(set(want) - set(got))
        if missing:
            raise RuntimeError(f"--backward did not write {missing}")
        results[(dtype, "bwd")] = max_error(got, want, grads) if grads else (0.0, 0.0)
        results[(dtype, "fwd")] = max(results[(dtype, "fwd")], max_error(got, want, [k for k in want if k not in grads]))
    return results


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voxnn", default=os.path.join(here, "..", "build", "tools", "voxnn"), help="the voxnn binary")
    ap.add_argument("--only", default="", help="comma-separated op names")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="nn.functional.(sigmoid|tanh) is deprecated")

    names = subprocess.run([args.voxnn, "op", "--list"], capture_output=True, text=True, check=True).stdout.split()
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    torch.manual_seed(args.seed)
    cases = make_cases()
    failed = []
    print(f"{'op':22} {'cases':>5} {'f64 out':>10} {'f64 grad':>10} {'f32 out':>10} {'f32 grad':>10}")
    with tempfile.TemporaryDirectory(prefix="voxnn_check_ops_") as workdir:
        for name in names:
            if name not in cases:
                print(f"{name:22} no case in tools/check_ops.py")
                failed.append(name)
                continue
            worst, ok = {}, True
            try:
                for config, tensors in cases[name]:
                    for key, (err, scale) in check_case(args.voxnn, name, config, tensors, workdir).items():
                        ok = ok and err <= TOL[key[0]] * max(1.0, scale)
                        worst[key] = max(worst.get(key, 0.0), err)
            except Exception as e:  # noqa: BLE001 - report and go on with the next op
                print(f"{name:22} ERROR {e}")
                failed.append(name)
                continue
            cells = [f"{worst[(d, p)]:10.2e}" for d in (torch.float64, torch.float32) for p in ("fwd", "bwd")]
            print(f"{name:22} {len(cases[name]):5} {' '.join(cells)}{'' if ok else '  FAIL'}")
            if not ok:
                failed.append(name)
    unused = sorted(set(cases) - set(names)) if not args.only else []
    if unused:
        print(f"cases for ops voxnn does not list: {', '.join(unused)}")
    print(f"{len(names) - len(failed)} of {len(names)} ops within tolerance" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
