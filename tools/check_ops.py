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
integer outputs (indices) must match exactly.

The imaging operators (issue 4) are checked against torch where it has them (F.grid_sample,
F.affine_grid, torch.fft.fftn / ifftn through view_as_complex, torch.roll, nn.GRU / nn.LSTM's kernels
_VF.gru / _VF.lstm on the given parameters, F.multi_head_attention_forward) and otherwise against the
reference packages: fastMRI 0.3 (fft2c, ifft2c, fftshift, ifftshift, roll, complex_mul, complex_conj,
complex_abs, complex_abs_sq, rss, rss_complex, VarNetBlock.sens_expand / sens_reduce) and voxelmorph
0.2's torch layers (SpatialTransformer, VecInt, ResizeTransform). Those packages live in the
reference venv (/work/notes/venv_ref.md): run

    /work/venv-ref/bin/python tools/check_ops.py --voxnn BUILD/tools/voxnn

to use them. Under an interpreter without them (/usr/bin/python3) the same definitions, written out
in torch below, are the reference; the first line of output says which. Operators without a
counterpart in either (compose_displacements, jacobian_determinant, folding_fraction, the data
consistency terms, scaled_dot_product_attention (PyTorch 2), the slicing helpers, and the PET
operators: radon / back_projection through a dense system matrix built from the geometry in
ops/radon.hpp, attenuation_factors, pet_forward, ramp_filter, fbp, mlem, osem) are checked against
torch / numpy write-outs of the definitions in their headers. Outputs with several names (gru / lstm:
out, out_h_n[, out_c_n]; multi_head_attention_forward: out, out_attn_output_weights) get one upstream
gradient each (gout, gout_<name>). Ops without gradients (folding_fraction and the PET data tools)
are run with --backward too, which must write their outputs only. poisson, drawn from voxnn's own
generator, is checked for its properties instead (see check_poisson).
Without torch at all the script re-executes itself with /usr/bin/python3."""

import argparse
import inspect
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import warnings

try:
    import torch
except ImportError:  # e.g. a python3 on PATH without torch: Debian's has it (torch 1.13)
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__)] + sys.argv[1:])
    raise
import numpy as np
import torch.nn.functional as F

# The reference packages, when this interpreter has them (see the docstring).
try:
    import fastmri
    from fastmri.models.varnet import VarNetBlock
except ImportError:
    fastmri = None
try:
    os.environ.setdefault("VXM_BACKEND", "pytorch")
    if not hasattr(inspect, "getargspec"):  # voxelmorph 0.2 still calls it; removed in Python 3.11
        inspect.getargspec = lambda f: tuple(inspect.getfullargspec(f)[:4])
    from voxelmorph.torch import layers as vxm_layers
except Exception:  # noqa: BLE001 - ImportError, or a voxelmorph that fails on import
    vxm_layers = None

DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64", torch.bool: "BOOL"}
NUMPY_OF = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64, "BOOL": torch.bool}
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
    cases = {
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
    cases.update(make_imaging_cases())  # drawn after the others: their inputs stay as they were
    return cases


# ---- imaging operators (issue 4): references --------------------------------------------------------------
# Each takes the tensors by voxnn op's names and the config by its keys; it returns a tensor, or a dict
# of outputs by voxnn op's names (out, out_<name>). A reference package is used when importable.

def _as_complex(x):
    return torch.view_as_complex(x.contiguous())


def fftn_ref(input, s=None, dim=None, norm=None):
    return torch.view_as_real(torch.fft.fftn(_as_complex(input), s=s, dim=dim, norm=norm))


def ifftn_ref(input, s=None, dim=None, norm=None):
    return torch.view_as_real(torch.fft.ifftn(_as_complex(input), s=s, dim=dim, norm=norm))


def fftshift_ref(x, dim=None):
    # fastmri.fftshift: shift n // 2 along each dim (all dims of the real tensor when None)
    return fastmri.fftshift(x, dim) if fastmri else torch.fft.fftshift(x, dim)


def ifftshift_ref(x, dim=None):
    return fastmri.ifftshift(x, dim) if fastmri else torch.fft.ifftshift(x, dim)


def roll_ref(x, shift, dim):
    shift, dim = (list(v) if isinstance(v, (list, tuple)) else [v] for v in (shift, dim))
    return fastmri.roll(x, shift, dim) if fastmri else torch.roll(x, shift, dim)


def fft2c_ref(data, norm="ortho"):
    # fastmri.fft2c: ifftshift -> fftn over the two complex dims before the trailing 2 -> fftshift
    if fastmri:
        return fastmri.fft2c(data, norm=norm)
    x = torch.fft.ifftshift(data, dim=[-3, -2])
    x = torch.view_as_real(torch.fft.fftn(_as_complex(x), dim=(-2, -1), norm=norm))
    return torch.fft.fftshift(x, dim=[-3, -2])


def ifft2c_ref(data, norm="ortho"):
    if fastmri:
        return fastmri.ifft2c(data, norm=norm)
    x = torch.fft.ifftshift(data, dim=[-3, -2])
    x = torch.view_as_real(torch.fft.ifftn(_as_complex(x), dim=(-2, -1), norm=norm))
    return torch.fft.fftshift(x, dim=[-3, -2])


def complex_mul_ref(input, other):
    if fastmri:
        return fastmri.complex_mul(input, other)
    re = input[..., 0] * other[..., 0] - input[..., 1] * other[..., 1]
    im = input[..., 0] * other[..., 1] + input[..., 1] * other[..., 0]
    return torch.stack((re, im), dim=-1)


def complex_conj_ref(input):
    return fastmri.complex_conj(input) if fastmri else torch.stack((input[..., 0], -input[..., 1]), dim=-1)


def complex_abs_sq_ref(input):
    return fastmri.complex_abs_sq(input) if fastmri else (input**2).sum(dim=-1)


def complex_abs_ref(input):
    return fastmri.complex_abs(input) if fastmri else (input**2).sum(dim=-1).sqrt()


def rss_ref(input, dim=0):
    return fastmri.rss(input, dim) if fastmri else torch.sqrt((input**2).sum(dim))


def rss_complex_ref(input, dim=0):
    return fastmri.rss_complex(input, dim) if fastmri else torch.sqrt(complex_abs_sq_ref(input).sum(dim))


def sens_expand_ref(input, sens_maps):
    if fastmri:
        return VarNetBlock.sens_expand(None, input, sens_maps)
    return fft2c_ref(complex_mul_ref(input, sens_maps))


def sens_reduce_ref(input, sens_maps):
    if fastmri:
        return VarNetBlock.sens_reduce(None, input, sens_maps)
    return complex_mul_ref(ifft2c_ref(input), complex_conj_ref(sens_maps)).sum(dim=1, keepdim=True)


def soft_data_consistency_ref(input, ref_kspace, mask, dc_weight):
    # VarNetBlock.forward's soft_dc term, the mask a real 0/1 tensor
    zero = torch.zeros(1, dtype=input.dtype)
    return torch.where(mask != 0, input - ref_kspace, zero) * dc_weight


def hard_data_consistency_ref(input, ref_kspace, mask):
    return torch.where(mask != 0, ref_kspace, input)


def _warp(src, flow, mode="bilinear", padding_mode="zeros"):
    """voxelmorph's SpatialTransformer (MONAI's Warp for other padding): src sampled at x + flow(x)."""
    if vxm_layers and padding_mode == "zeros":
        return vxm_layers.SpatialTransformer(tuple(flow.shape[2:]), mode)(src, flow)
    size = flow.shape[2:]
    mesh = torch.meshgrid([torch.arange(n, dtype=flow.dtype) for n in size], indexing="ij")
    locs = [2 * ((mesh[i] + flow[:, i]) / (size[i] - 1) - 0.5) for i in range(len(size))]
    return F.grid_sample(src, torch.stack(locs[::-1], dim=-1), mode=mode, padding_mode=padding_mode, align_corners=True)


def spatial_transformer_ref(input, flow, mode="bilinear", padding_mode="zeros"):
    return _warp(input, flow, mode, padding_mode)


def vec_int_ref(input, nsteps):
    if vxm_layers:
        return vxm_layers.VecInt(tuple(input.shape[2:]), nsteps)(input)
    vec = input * (1.0 / 2**nsteps)
    for _ in range(nsteps):
        vec = vec + _warp(vec, vec)
    return vec


def resize_transform_ref(input, vel_resize):
    ndims = input.dim() - 2
    if vxm_layers:
        return vxm_layers.ResizeTransform(vel_resize, ndims)(input)
    factor, mode = 1.0 / vel_resize, ["linear", "bilinear", "trilinear"][ndims - 1]
    if factor < 1:
        return factor * F.interpolate(input, align_corners=True, scale_factor=factor, mode=mode)
    if factor > 1:
        return F.interpolate(factor * input, align_corners=True, scale_factor=factor, mode=mode)
    return input


def compose_displacements_ref(input, other, mode="bilinear", padding_mode="border"):
    # b(x) + a(x + b(x)) with a = input, b = other (voxelmorph's compose; neurite clamps: border)
    return other + _warp(input, other, mode, padding_mode)


def _jacobian_det(flow):
    """det(I + grad flow) per voxel, derivatives as numpy.gradient (torch.gradient, edge_order 1)."""
    nd = flow.shape[1]
    rows = [torch.stack(torch.gradient(flow[:, c], dim=list(range(1, nd + 1))), dim=-1) for c in range(nd)]
    jac = torch.stack(rows, dim=-2)  # (N, *S, c, i) = d flow_c / d axis i
    return torch.linalg.det(jac + torch.eye(nd, dtype=flow.dtype))


def jacobian_determinant_ref(input):
    return _jacobian_det(input)


def folding_fraction_ref(input):
    return (_jacobian_det(input) <= 0).to(input.dtype).flatten(1).mean(dim=1)


def _bool_mask(m):
    return m if m is None or m.is_floating_point() else m != 0


def multi_head_attention_forward_ref(query, key, value, **kw):
    args = dict(in_proj_weight=None, in_proj_bias=None, bias_k=None, bias_v=None, add_zero_attn=False,
                dropout_p=0.0, out_proj_bias=None)
    args.update(kw)
    for m in ("key_padding_mask", "attn_mask"):
        args[m] = _bool_mask(args.get(m))
    out, weights = F.multi_head_attention_forward(query, key, value, **args)
    return {"out": out} if weights is None else {"out": out, "out_attn_output_weights": weights}


def scaled_dot_product_attention_ref(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    # PyTorch 2's function (1.13 lacks it); boolean mask: true = takes part
    scores = query @ key.transpose(-2, -1) * (1 / math.sqrt(query.shape[-1]) if scale is None else scale)
    if is_causal:
        scores = scores.masked_fill(~torch.ones(scores.shape[-2:], dtype=torch.bool).tril(), -math.inf)
    attn_mask = _bool_mask(attn_mask)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, -math.inf) if attn_mask.dtype == torch.bool else scores + attn_mask
    return torch.softmax(scores, dim=-1) @ value


def _slice_perm(d, slice_major):
    rest = [i for i in (2, 3, 4) if i != d]
    return [d, 0, 1] + rest if slice_major else [0, d, 1] + rest


def volume_to_slices_ref(input, dim=2, context=1, order="slice_major"):
    d = dim % 5
    n_slices = input.shape[d] - context + 1
    x = torch.stack([input.narrow(d, j, n_slices) for j in range(context)], dim=2)  # channel c * k + j
    x = x.reshape(input.shape[0], input.shape[1] * context, *x.shape[3:])
    y = x.permute(_slice_perm(d, order == "slice_major"))
    return y.reshape(-1, *y.shape[2:])


def slices_to_volume_ref(input, batch, dim=2, context=1, order="slice_major"):
    d, n = dim % 5, batch
    s = input.shape[0] // n
    y = input.reshape(s, n, *input.shape[1:]) if order == "slice_major" else input.reshape(n, s, *input.shape[1:])
    perm = _slice_perm(d, order == "slice_major")
    return y.permute([perm.index(i) for i in range(5)])


def slices_to_set_ref(input, batch, order="slice_major"):
    if order == "slice_major":
        return input.reshape(-1, batch, *input.shape[1:]).transpose(0, 1)
    return input.reshape(batch, -1, *input.shape[1:])


def set_to_slices_ref(input, order="slice_major"):
    return (input.transpose(0, 1) if order == "slice_major" else input).reshape(-1, *input.shape[2:])


IMAGING = {
    "fftn": fftn_ref, "ifftn": ifftn_ref, "fft2c": fft2c_ref, "ifft2c": ifft2c_ref, "fftshift": fftshift_ref,
    "ifftshift": ifftshift_ref, "roll": roll_ref,
    "complex_mul": complex_mul_ref, "complex_conj": complex_conj_ref, "complex_abs": complex_abs_ref,
    "complex_abs_sq": complex_abs_sq_ref, "rss": rss_ref, "rss_complex": rss_complex_ref,
    "sens_expand": sens_expand_ref, "sens_reduce": sens_reduce_ref,
    "soft_data_consistency": soft_data_consistency_ref, "hard_data_consistency": hard_data_consistency_ref,
    "spatial_transformer": spatial_transformer_ref, "vec_int": vec_int_ref, "resize_transform": resize_transform_ref,
    "compose_displacements": compose_displacements_ref, "jacobian_determinant": jacobian_determinant_ref,
    "folding_fraction": folding_fraction_ref,
    "multi_head_attention_forward": multi_head_attention_forward_ref,
    "scaled_dot_product_attention": scaled_dot_product_attention_ref,
    "volume_to_slices": volume_to_slices_ref, "slices_to_volume": slices_to_volume_ref,
    "slices_to_set": slices_to_set_ref, "set_to_slices": set_to_slices_ref,
}


# PET: a dense system matrix from the geometry of include/voxnn/ops/radon.hpp (pixel (i, j) the unit
# square at x = j - (W - 1) / 2, y = (H - 1) / 2 - i; bin b the strip |x cos + y sin - s_b| <= d / 2,
# s_b = (b - (B - 1) / 2) d; the image constant on the rows (|cos| >= |sin|) or the columns the rays
# cross, each bin the mean over its strip of the line integrals: weight = overlap length / d).

def _radon_geometry(height, width, num_angles=180, angles=None, num_bins=0, bin_spacing=1.0):
    angles = list(angles) if angles else [k * math.pi / num_angles for k in range(num_angles)]
    bins = num_bins or math.ceil(math.sqrt(height**2 + width**2) / bin_spacing)
    return height, width, angles, bins, bin_spacing


def _overlap(lo, hi, centres):
    """Length of [lo, hi] (arrays (B,)) inside each unit cell centred at centres (n,): (B, n)."""
    return (np.minimum(hi[:, None], centres[None, :] + 0.5) - np.maximum(lo[:, None], centres[None, :] - 0.5)).clip(0)


def radon_matrix(height, width, angles, bins, d):
    """(angles * bins, H * W) in float64."""
    a = np.zeros((len(angles), bins, height, width))
    edges = (np.arange(bins + 1) - bins / 2) * d
    xs, ys = np.arange(width) - (width - 1) / 2, (height - 1) / 2 - np.arange(height)
    for k, th in enumerate(angles):
        c, s = math.cos(th), math.sin(th)
        if abs(c) >= abs(s):  # rows: x where the strip edges cross row i
            for i in range(height):
                u = (edges - ys[i] * s) / c
                a[k, :, i, :] = _overlap(np.minimum(u[:-1], u[1:]), np.maximum(u[:-1], u[1:]), xs) / d
        else:  # columns
            for j in range(width):
                v = (edges - xs[j] * c) / s
                a[k, :, :, j] = _overlap(np.minimum(v[:-1], v[1:]), np.maximum(v[:-1], v[1:]), ys) / d
    return a.reshape(len(angles) * bins, height * width)


def _project(x, geom):
    h, w, angles, bins, d = geom
    a = torch.from_numpy(radon_matrix(h, w, angles, bins, d)).to(x.dtype)
    return (x.reshape(-1, h * w) @ a.T).reshape(*x.shape[:-2], len(angles), bins)


def _back_project(y, geom):
    h, w, angles, bins, d = geom
    a = torch.from_numpy(radon_matrix(h, w, angles, bins, d)).to(y.dtype)
    return (y.reshape(-1, len(angles) * bins) @ a).reshape(*y.shape[:-2], h, w)


def _image_geometry(image, **g):
    return _radon_geometry(image.shape[-2], image.shape[-1], **g)


def _sinogram_geometry(sino, height, width, num_angles=None, angles=None, num_bins=None, bin_spacing=1.0):
    return _radon_geometry(height, width, num_angles or sino.shape[-2], angles, num_bins or sino.shape[-1], bin_spacing)


def radon_ref(input, **g):
    return _project(input, _image_geometry(input, **g))


def back_projection_ref(input, **g):
    return _back_project(input, _sinogram_geometry(input, **g))


def attenuation_factors_ref(input, pixel_size=1.0, **g):
    return torch.exp(-pixel_size * _project(input, _image_geometry(input, **g)))


def pet_forward_ref(input, attenuation=None, background=None, **g):
    y = _project(input, _image_geometry(input, **g))
    return (y if attenuation is None else attenuation * y) + (0 if background is None else background)


def _ramp_kernel(bins, filter="ramp", frequency_scaling=1.0):
    """The spatial Ram-Lak kernel at lags -(B - 1) .. B - 1, windowed in frequency on a 2 B grid."""
    p = 2 * bins
    lag = np.where(np.arange(p) <= p // 2, np.arange(p), np.arange(p) - p)
    h = np.zeros(p)
    odd = lag % 2 != 0
    h[odd] = -1.0 / (math.pi * lag[odd]) ** 2
    h[lag == 0] = 0.25
    if filter not in ("ramp", "ram-lak") or frequency_scaling != 1:
        spectrum = np.fft.fft(h).real  # real and even
        freq = np.minimum(np.arange(p), p - np.arange(p)) / p
        nu = freq / 0.5 / frequency_scaling
        with np.errstate(divide="ignore", invalid="ignore"):
            window = {"ramp": np.ones(p), "ram-lak": np.ones(p),
                      "shepp-logan": np.where(nu == 0, 1.0, np.sin(math.pi * nu / 2) / (math.pi * nu / 2)),
                      "cosine": np.cos(math.pi * nu / 2), "hamming": 0.54 + 0.46 * np.cos(math.pi * nu),
                      "hann": 0.5 + 0.5 * np.cos(math.pi * nu)}[filter]
        h = np.fft.ifft(spectrum * np.where(nu > 1, 0.0, window)).real
    return np.array([h[(l + p) % p] for l in range(-(bins - 1), bins)])


def ramp_filter_ref(input, bin_spacing=1.0, filter="ramp", frequency_scaling=1.0):
    """q[b] = (1 / d) sum_b' p[b'] k[b - b'] (linear convolution over the detector)."""
    bins = input.shape[-1]
    k = _ramp_kernel(bins, filter, frequency_scaling)
    conv = np.array([[k[b - bp + bins - 1] for b in range(bins)] for bp in range(bins)])  # (b', b)
    return (input @ torch.from_numpy(conv).to(input.dtype)) / bin_spacing


def fbp_ref(input, filter="ramp", frequency_scaling=1.0, **g):
    geom = _sinogram_geometry(input, **g)
    q = ramp_filter_ref(input, geom[4], filter, frequency_scaling)
    return _back_project(q, geom) * (math.pi * geom[4] / len(geom[2]))


def osem_ref(input, attenuation=None, background=None, initial=None, iterations=10, subsets=1, **g):
    """x <- x / (A_s^T a_s) * A_s^T(a_s y_s / (a_s A_s x + r_s)) per subset s (angles s, s + n, ...)."""
    h, w, angles, bins, d = _sinogram_geometry(input, **g)
    y = input.double().reshape(-1, len(angles), bins)
    a = torch.ones_like(y) if attenuation is None else attenuation.double().reshape(y.shape)
    r = torch.zeros_like(y) if background is None else background.double().reshape(y.shape)
    mats, sens = [], []
    for s in range(subsets):
        idx = list(range(s, len(angles), subsets))
        m = torch.from_numpy(radon_matrix(h, w, [angles[k] for k in idx], bins, d))
        mats.append((idx, m))
        sens.append(a[:, idx].reshape(y.shape[0], -1) @ m)
    if initial is not None:
        x = initial.double().reshape(-1, h * w).clone()
    else:
        net = (y - r).sum(dim=(1, 2))
        total = sum(sens).sum(dim=1)
        x = torch.where((total > 0) & (net > 0), net / total, torch.zeros_like(net))[:, None].repeat(1, h * w)
    for _ in range(iterations):
        for (idx, m), sn in zip(mats, sens):
            ys, as_, rs = (t[:, idx].reshape(y.shape[0], -1) for t in (y, a, r))
            expected = as_ * (x @ m.T) + rs
            ratio = torch.where(expected > 0, as_ * ys / expected, torch.zeros_like(expected))
            x = torch.where(sn > 0, x * (ratio @ m) / sn, torch.zeros_like(x))
    return x.reshape(*input.shape[:-2], h, w).to(input.dtype)


def mlem_ref(input, **kw):
    return osem_ref(input, subsets=1, **kw)


IMAGING.update({"radon": radon_ref, "back_projection": back_projection_ref,
                "attenuation_factors": attenuation_factors_ref, "pet_forward": pet_forward_ref,
                "ramp_filter": ramp_filter_ref, "fbp": fbp_ref, "mlem": mlem_ref, "osem": osem_ref})



# RNN: torch's own kernels (_VF.gru / _VF.lstm, what nn.GRU / nn.LSTM call) on the given parameters,
# flat in nn.GRU's order (per layer, per direction: weight_ih, weight_hh[, bias_ih, bias_hh]).

def _rnn_ref(kind, input, h0=None, c0=None, input_size=None, hidden_size=None, num_layers=1, bias=True,
             batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, training=False, **params):
    dirs = 2 if bidirectional else 1
    names = [f"{w}_l{k}{'_reverse' if r else ''}" for k in range(num_layers) for r in range(dirs)
             for w in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if bias else ())]
    flat = [params[n] for n in names]
    hidden = params["weight_hh_l0"].shape[1]
    unbatched = input.dim() == 2
    x = input.unsqueeze(0 if batch_first else 1) if unbatched else input
    batch = x.shape[0 if batch_first else 1]
    zeros = torch.zeros(num_layers * dirs, batch, hidden, dtype=input.dtype)
    state = [zeros if h is None else (h.unsqueeze(1) if unbatched else h) for h in ((h0, c0) if kind == "lstm" else (h0,))]
    if kind == "lstm":
        out, h_n, c_n = torch._VF.lstm(x, state, flat, bias, num_layers, dropout, training, bidirectional, batch_first)
        res = {"out": out, "out_h_n": h_n, "out_c_n": c_n}
    else:
        out, h_n = torch._VF.gru(x, state[0], flat, bias, num_layers, dropout, training, bidirectional, batch_first)
        res = {"out": out, "out_h_n": h_n}
    if unbatched:
        res = {k: v.squeeze(0 if (k == "out" and batch_first) else 1) for k, v in res.items()}
    return res


IMAGING.update({"gru": lambda **kw: _rnn_ref("gru", **kw), "lstm": lambda **kw: _rnn_ref("lstm", **kw)})


def rnn_case(kind, seq, batch, inp, hidden, layers=1, bidirectional=False, bias=True, batch_first=False,
             state=True, **config):
    """A case of gru / lstm with random parameters (PyTorch's names) and optional initial states."""
    dirs, gates = (2 if bidirectional else 1), (4 if kind == "lstm" else 3)
    shape = ([batch, seq] if batch_first else [seq, batch]) if batch else [seq]
    tensors = {"input": randn(*shape, inp)}
    hshape = [layers * dirs] + ([batch] if batch else []) + [hidden]
    if state:
        tensors["h0"] = randn(*hshape)
        if kind == "lstm":
            tensors["c0"] = randn(*hshape)
    for k in range(layers):
        for r in range(dirs):
            sfx = f"_l{k}{'_reverse' if r else ''}"
            tensors["weight_ih" + sfx] = 0.5 * randn(gates * hidden, inp if k == 0 else dirs * hidden)
            tensors["weight_hh" + sfx] = 0.5 * randn(gates * hidden, hidden)
            if bias:
                tensors["bias_ih" + sfx], tensors["bias_hh" + sfx] = 0.5 * randn(gates * hidden), 0.5 * randn(gates * hidden)
    cfg = dict(config, num_layers=layers, bidirectional=bidirectional, bias=bias, batch_first=batch_first)
    return case(cfg, **tensors)


# ---- imaging operators: cases --------------------------------------------------------------------------------

def uniform(lo, hi, *shape):
    return torch.rand(shape, dtype=torch.float64) * (hi - lo) + lo


def mask01(*shape):
    """A real 0/1 mask (fastMRI's mask functions return float masks), at least one of each."""
    m = (torch.rand(shape, dtype=torch.float64) < 0.5).to(torch.float64)
    m.view(-1)[0], m.view(-1)[-1] = 1.0, 0.0
    return m


def int_mask(*shape, p=0.3):
    """An integer (I64) boolean mask, true with probability p, never a whole last-dim row."""
    m = (torch.rand(shape) < p).to(torch.int64)
    m[..., 0] = 0
    return m


def make_imaging_cases():
    e, h = 8, 2
    mha = dict(embed_dim_to_check=e, num_heads=h)
    return {
        # fft
        "fftn": [case({"dim": [-2, -1], "norm": "ortho"}, input=randn(2, 3, 5, 6, 2)),
                 case({}, input=randn(3, 4, 2)),
                 case({"dim": [1], "norm": "forward"}, input=randn(2, 7, 3, 2)),
                 case({"dim": [1, 2, 3], "norm": "backward", "s": None}, input=randn(1, 4, 9, 13, 2)),
                 case({"dim": [0, 2]}, input=randn(16, 3, 12, 2))],
        "ifftn": [case({"dim": [-2, -1], "norm": "ortho"}, input=randn(2, 3, 5, 6, 2)),
                  case({"norm": None}, input=randn(3, 4, 2)),
                  case({"dim": [1], "norm": "forward"}, input=randn(2, 7, 3, 2)),
                  case({"dim": [1, 2, 3]}, input=randn(1, 4, 9, 11, 2))],
        "fft2c": [case({}, data=randn(2, 3, 7, 6, 2)), case({"norm": "backward"}, data=randn(5, 8, 2))],
        "ifft2c": [case({}, data=randn(2, 3, 7, 6, 2)), case({"norm": "forward"}, data=randn(5, 8, 2))],
        "fftshift": [case({"dim": [-3, -2]}, x=randn(2, 5, 6, 2)), case({}, x=randn(3, 4, 5))],
        "ifftshift": [case({"dim": [-3, -2]}, x=randn(2, 5, 6, 2)), case({"dim": None}, x=randn(3, 4, 5))],
        "roll": [case({"shift": [2, -1], "dim": [1, 2]}, x=randn(2, 5, 6, 2)),
                 case({"shift": [7], "dim": [-1]}, x=randn(3, 4)),
                 case({"shift": 1, "dim": 0}, x=randn(3, 4))],

        # grid
        "grid_sample": [
            case({"mode": "bilinear", "padding_mode": "zeros", "align_corners": False},
                 input=randn(2, 3, 5, 6), grid=uniform(-1.2, 1.2, 2, 4, 7, 2)),
            case({"mode": "bilinear", "padding_mode": "border", "align_corners": True},
                 input=randn(2, 3, 5, 6), grid=uniform(-1.2, 1.2, 2, 4, 7, 2)),
            case({"mode": "bilinear", "padding_mode": "reflection", "align_corners": False},
                 input=randn(1, 2, 5, 6), grid=uniform(-2.5, 2.5, 1, 6, 5, 2)),
            case({"mode": "nearest", "padding_mode": "reflection", "align_corners": True},
                 input=randn(2, 3, 5, 6), grid=uniform(-1.5, 1.5, 2, 4, 7, 2)),
            case({"mode": "bicubic", "padding_mode": "zeros", "align_corners": False},
                 input=randn(2, 2, 5, 6), grid=uniform(-1.2, 1.2, 2, 3, 4, 2)),
            case({"mode": "bicubic", "padding_mode": "border", "align_corners": True},
                 input=randn(1, 2, 5, 6), grid=uniform(-1.2, 1.2, 1, 3, 4, 2)),
            case({"mode": "bicubic", "padding_mode": "reflection", "align_corners": False},
                 input=randn(1, 2, 5, 6), grid=uniform(-1.5, 1.5, 1, 3, 4, 2)),
            case({"align_corners": None}, input=randn(2, 3, 5, 6), grid=uniform(-1, 1, 2, 4, 7, 2)),
            case({"mode": "bilinear", "padding_mode": "zeros", "align_corners": True},
                 input=randn(2, 2, 4, 5, 6), grid=uniform(-1.2, 1.2, 2, 3, 4, 5, 3)),
            case({"mode": "bilinear", "padding_mode": "border", "align_corners": False},
                 input=randn(1, 3, 4, 5, 6), grid=uniform(-1.2, 1.2, 1, 3, 2, 4, 3)),
            case({"mode": "bilinear", "padding_mode": "reflection", "align_corners": True},
                 input=randn(1, 2, 4, 5, 3), grid=uniform(-2.5, 2.5, 1, 3, 4, 2, 3)),
            case({"mode": "nearest", "padding_mode": "zeros", "align_corners": False},
                 input=randn(2, 2, 4, 5, 6), grid=uniform(-1.2, 1.2, 2, 3, 4, 5, 3)),
            # identity grids: every location on a pixel centre (the kinks of the interpolation)
            case({"mode": "bilinear", "padding_mode": "zeros", "align_corners": True}, input=randn(1, 2, 5, 6),
                 grid=F.affine_grid(torch.eye(2, 3, dtype=torch.float64)[None], [1, 2, 5, 6], align_corners=True)),
            case({"mode": "bilinear", "padding_mode": "border", "align_corners": False}, input=randn(1, 2, 3, 5, 4),
                 grid=F.affine_grid(torch.eye(3, 4, dtype=torch.float64)[None], [1, 2, 3, 5, 4], align_corners=False))],
        "affine_grid": [case({"size": [2, 3, 5, 4], "align_corners": False}, theta=randn(2, 2, 3)),
                        case({"size": [2, 1, 3, 4, 5], "align_corners": True}, theta=randn(2, 3, 4)),
                        case({"size": [1, 1, 1, 4]}, theta=randn(1, 2, 3))],

        # deformation
        "spatial_transformer": [
            case({}, input=randn(2, 3, 6, 7), flow=1.5 * randn(2, 2, 6, 7)),
            case({"mode": "nearest"}, input=randn(2, 1, 6, 7), flow=1.5 * randn(2, 2, 6, 7)),
            case({"padding_mode": "border"}, input=randn(1, 2, 4, 5, 6), flow=1.5 * randn(1, 3, 4, 5, 6)),
            case({"mode": "bilinear", "padding_mode": "zeros"}, input=randn(1, 2, 4, 5, 3),
                 flow=randn(1, 3, 4, 5, 3)),
            # integer shifts: exact voxel values (closed form), the flow gradient at the kinks
            case({}, input=randn(2, 2, 5, 6), flow=torch.randint(-2, 3, (2, 2, 5, 6)).to(torch.float64)),
            case({}, input=randn(1, 1, 3, 4, 5), flow=torch.zeros(1, 3, 3, 4, 5, dtype=torch.float64))],
        "vec_int": [case({"nsteps": 3}, input=2 * randn(2, 2, 6, 7)), case({"nsteps": 2}, input=randn(1, 3, 4, 5, 3)),
                    case({"nsteps": 0}, input=randn(1, 2, 3, 4))],
        "resize_transform": [case({"vel_resize": 2}, input=randn(2, 2, 8, 6)),
                             case({"vel_resize": 0.5}, input=randn(1, 3, 3, 4, 5)),
                             case({"vel_resize": 0.5}, input=randn(2, 1, 5)),
                             case({"vel_resize": 1.0}, input=randn(1, 2, 3, 4))],
        "compose_displacements": [case({}, input=randn(2, 2, 5, 6), other=1.5 * randn(2, 2, 5, 6)),
                                  case({"padding_mode": "zeros"}, input=randn(1, 3, 4, 5, 3), other=randn(1, 3, 4, 5, 3))],
        "jacobian_determinant": [case({}, input=0.3 * randn(2, 2, 5, 6)), case({}, input=0.3 * randn(1, 3, 4, 5, 3)),
                                 case({}, input=randn(1, 2, 2, 3))],
        "folding_fraction": [case({}, input=randn(2, 2, 5, 6)), case({}, input=randn(2, 3, 4, 5, 3))],

        # mri
        "complex_mul": [case({}, input=randn(2, 3, 4, 5, 2), other=randn(1, 3, 1, 5, 2))],
        "complex_conj": [case({}, input=randn(2, 3, 4, 2))],
        "complex_abs": [case({}, input=randn(2, 3, 4, 2))],
        "complex_abs_sq": [case({}, input=randn(2, 3, 4, 2))],
        "rss": [case({"dim": 1}, input=randn(2, 4, 5, 6)), case({}, input=randn(3, 5, 6))],
        "rss_complex": [case({"dim": 1}, input=randn(2, 4, 5, 6, 2)), case({}, input=randn(3, 5, 2))],
        "sens_expand": [case({}, input=randn(2, 1, 5, 6, 2), sens_maps=randn(2, 3, 5, 6, 2))],
        "sens_reduce": [case({}, input=randn(2, 3, 5, 6, 2), sens_maps=randn(2, 3, 5, 6, 2))],
        "soft_data_consistency": [case({}, input=randn(2, 3, 5, 6, 2), ref_kspace=randn(2, 3, 5, 6, 2),
                                       mask=mask01(1, 1, 1, 6, 1), dc_weight=randn(1))],
        "hard_data_consistency": [case({}, input=randn(2, 3, 5, 6, 2), ref_kspace=randn(2, 3, 5, 6, 2),
                                       mask=mask01(1, 1, 1, 6, 1)),
                                  case({}, input=randn(2, 5, 6, 2), ref_kspace=randn(2, 5, 6, 2), mask=mask01(5, 6, 1))],

        # attention
        "multi_head_attention_forward": [
            case(dict(mha, training=False), query=randn(3, 2, e), key=randn(4, 2, e), value=randn(4, 2, e),
                 in_proj_weight=randn(3 * e, e), in_proj_bias=randn(3 * e), out_proj_weight=randn(e, e),
                 out_proj_bias=randn(e)),
            case(dict(mha, add_zero_attn=True, average_attn_weights=False), query=randn(3, 2, e), key=randn(5, 2, e),
                 value=randn(5, 2, e), in_proj_weight=randn(3 * e, e), in_proj_bias=randn(3 * e),
                 bias_k=randn(1, 1, e), bias_v=randn(1, 1, e), out_proj_weight=randn(e, e), out_proj_bias=randn(e),
                 key_padding_mask=int_mask(2, 5)),
            case(dict(mha, use_separate_proj_weight=True, need_weights=False), query=randn(3, 2, e),
                 key=randn(4, 2, 6), value=randn(4, 2, 5), q_proj_weight=randn(e, e), k_proj_weight=randn(e, 6),
                 v_proj_weight=randn(e, 5), in_proj_bias=randn(3 * e), out_proj_weight=randn(e, e),
                 out_proj_bias=randn(e), attn_mask=randn(3, 4)),
            case(mha, query=randn(3, e), key=randn(4, e), value=randn(4, e), in_proj_weight=randn(3 * e, e),
                 out_proj_weight=randn(e, e), attn_mask=int_mask(3, 4)),
            case(dict(mha, training=False), query=randn(2, 3, e), key=randn(5, 3, e), value=randn(5, 3, e),
                 in_proj_weight=randn(3 * e, e), in_proj_bias=randn(3 * e), out_proj_weight=randn(e, e),
                 out_proj_bias=randn(e), key_padding_mask=int_mask(3, 5).bool())],
        "scaled_dot_product_attention": [
            case({}, query=randn(2, 3, 4, 5), key=randn(2, 3, 6, 5), value=randn(2, 3, 6, 7)),
            case({"scale": 0.3}, query=randn(2, 4, 5), key=randn(2, 6, 5), value=randn(2, 6, 3),
                 attn_mask=1 - int_mask(4, 6)),
            case({"is_causal": True}, query=randn(2, 4, 5), key=randn(2, 4, 5), value=randn(2, 4, 3)),
            case({}, query=randn(2, 4, 5), key=randn(2, 6, 5), value=randn(2, 6, 3), attn_mask=randn(2, 4, 6)),
            case({}, query=randn(2, 4, 5), key=randn(2, 6, 5), value=randn(2, 6, 3), attn_mask=1 - int_mask(2, 4, 6) > 0)],
        "volume_to_slices": [case({}, input=randn(2, 3, 4, 5, 6)),
                             case({"dim": 3, "order": "batch_major"}, input=randn(2, 3, 4, 5, 6)),
                             case({"dim": -1, "context": 3}, input=randn(2, 2, 4, 5, 6)),
                             case({"dim": 2, "context": 2, "order": "batch_major"}, input=randn(2, 1, 4, 3, 5))],
        "slices_to_volume": [case({"batch": 2}, input=randn(8, 3, 5, 6)),
                             case({"batch": 2, "dim": 4, "order": "batch_major"}, input=randn(12, 3, 4, 5))],
        "slices_to_set": [case({"batch": 2}, input=randn(8, 5)),
                          case({"batch": 3, "order": "batch_major"}, input=randn(12, 2, 3))],
        "set_to_slices": [case({}, input=randn(2, 4, 5)), case({"order": "batch_major"}, input=randn(3, 4, 2, 3))],

        # rnn
        "gru": [rnn_case("gru", 5, 3, 4, 6, layers=2, bidirectional=True),
                rnn_case("gru", 4, 2, 3, 5, bias=False, batch_first=True, state=False, hidden_size=5, input_size=3),
                rnn_case("gru", 6, 0, 3, 4, layers=2, dropout=0.3),
                rnn_case("gru", 3, 2, 4, 3, layers=3, bidirectional=True, batch_first=True, state=False)],
        "lstm": [rnn_case("lstm", 5, 3, 4, 6, layers=2, bidirectional=True),
                 rnn_case("lstm", 4, 2, 3, 5, bias=False, batch_first=True, state=False, proj_size=0),
                 rnn_case("lstm", 6, 0, 3, 4, bidirectional=True, training=False, dropout=0.5),
                 rnn_case("lstm", 3, 2, 4, 3, layers=3, batch_first=True)],

        # pet (odd angle counts: no angle at pi / 4, where the row / column choice is a tie)
        "radon": [case({"num_angles": 7}, input=randn(2, 7, 9)),
                  case({"angles": [0.1, 1.0, 2.0, 3.0, math.pi / 2, 0.0], "num_bins": 10, "bin_spacing": 1.3},
                       input=randn(1, 2, 6, 5)),
                  case({"num_angles": 5, "num_bins": 4, "bin_spacing": 0.7}, input=randn(8, 8))],
        "back_projection": [case({"height": 6, "width": 8}, input=randn(2, 7, 12)),
                            case({"height": 5, "width": 4, "angles": [0.3, 1.2, 2.5], "bin_spacing": 1.5},
                                 input=randn(1, 2, 3, 6))],
        "attenuation_factors": [case({"num_angles": 5, "pixel_size": 0.5}, input=0.1 * positive(1, 6, 7))],
        "pet_forward": [case({"num_angles": 5}, input=positive(2, 6, 7), attenuation=positive(2, 5, 10),
                             background=positive(2, 5, 10)),
                        case({"num_angles": 3, "num_bins": 8}, input=positive(1, 5, 5))],
        "ramp_filter": [case({}, input=randn(2, 5, 11)), case({"bin_spacing": 1.5, "filter": "hann",
                                                               "frequency_scaling": 0.8}, input=randn(2, 5, 11)),
                        case({"filter": "shepp-logan"}, input=randn(3, 8)), case({"filter": "cosine"}, input=randn(3, 7)),
                        case({"filter": "hamming", "frequency_scaling": 0.5}, input=randn(3, 9)),
                        case({"filter": "ramp", "frequency_scaling": 0.6}, input=randn(3, 9))],
        "fbp": [case({"height": 8, "width": 9}, input=randn(2, 9, 13)),
                case({"height": 6, "width": 6, "filter": "hamming", "bin_spacing": 1.2}, input=randn(1, 7, 8))],
        "mlem": [case({"height": 6, "width": 7, "iterations": 3}, input=10 * positive(1, 7, 10)),
                 case({"height": 5, "width": 5, "iterations": 2}, input=10 * positive(2, 5, 8),
                      attenuation=positive(2, 5, 8), background=positive(2, 5, 8))],
        "osem": [case({"height": 6, "width": 7, "iterations": 2, "subsets": 3}, input=10 * positive(1, 9, 10),
                      initial=positive(1, 6, 7)),
                 case({"height": 5, "width": 5, "iterations": 1, "subsets": 2}, input=10 * positive(2, 5, 8),
                      attenuation=positive(2, 5, 8), background=positive(2, 5, 8))],
        "poisson": [case({"seed": 3}, input=torch.cat([torch.full((1, 600), 3.0), torch.full((1, 600), 50.0)])),
                    case({}, input=torch.full((2, 3), 0.0, dtype=torch.float64))],
    }


CUSTOM = {"voxel_shuffle": voxel_shuffle, "voxel_unshuffle": voxel_unshuffle, **IMAGING}
# read by voxnn op as buffers (no gradient): statistics, indices, masks, PET measurement terms
NOT_DIFFERENTIABLE = {"running_mean", "running_var", "indices", "mask", "key_padding_mask", "attn_mask",
                      "attenuation", "background", "initial"}
# data tools without gradients: voxnn op --backward writes their outputs only
NO_GRAD_OPS = {"folding_fraction", "attenuation_factors", "pet_forward", "ramp_filter", "fbp", "mlem", "osem"}


# ---- PyTorch's side ---------------------------------------------------------------------------------------

# Names of the outputs of ops that return a tuple (default: out, out_indices).
TUPLE_OUTPUTS = {}


def reference(name, config, tensors):
    """The PyTorch call on fresh copies of `tensors` that require grad where differentiable: returns
    (outputs by voxnn op's names, still attached to the graph; {name: leaf} of the differentiable
    arguments)."""
    kw = {k: (v.clone() if v is not None else None) for k, v in tensors.items()}
    diff = {k: v for k, v in kw.items() if v is not None and v.is_floating_point() and k not in NOT_DIFFERENTIABLE}
    for v in diff.values():
        v.requires_grad_(True)
    fn = CUSTOM.get(name) or getattr(F, name)
    with torch.set_grad_enabled(name not in NO_GRAD_OPS):
        result = fn(**kw, **config)
    if isinstance(result, dict):
        outs = dict(result)
    elif isinstance(result, tuple):
        outs = {k: v for k, v in zip(TUPLE_OUTPUTS.get(name, ("out", "out_indices")), result) if v is not None}
    else:
        outs = {"out": result}
    if name in ("batch_norm", "instance_norm") and kw.get("running_mean") is not None and \
            config.get("training", config.get("use_input_stats", name == "instance_norm")):
        outs["new_running_mean"], outs["new_running_var"] = kw["running_mean"], kw["running_var"]
    return outs, diff


def reference_grads(outs, diff, gouts):
    """grad_<name> of every differentiable argument, given gout_<...> for the outputs that carry a graph
    (zeros for an argument they do not depend on)."""
    keys = [k for k in outs if "g" + k in gouts]
    if not keys or not diff:
        return {}
    grads = torch.autograd.grad([outs[k] for k in keys], list(diff.values()), [gouts["g" + k] for k in keys],
                                allow_unused=True)
    return {"grad_" + k: (g if g is not None else torch.zeros_like(v)).detach()
            for (k, v), g in zip(diff.items(), grads)}


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


def check_poisson(exe, config, tensors, workdir):
    """poisson draws from voxnn's own generator: no reference values. Checks that they are non-negative
    integers, 0 where the mean is 0, reproducible for a seed (forward and --backward alike), different
    for another seed, and that each row of constant mean mu has a sample mean within 5 standard errors
    of mu and a sample variance within 35% of mu; a failure is an ERROR line, the error columns show 0."""
    results = {}
    for dtype in (torch.float64, torch.float32):
        mean = tensors["input"].to(dtype)
        out = run_voxnn(exe, "poisson", config, {"input": mean}, workdir, backward=False)
        y = out.get("out")
        if y is None or y.shape != mean.shape or y.dtype != dtype:
            raise RuntimeError(f"expected out of shape {list(mean.shape)} and dtype {dtype}")
        if not bool((y >= 0).all() and (y == y.round()).all() and (y[mean == 0] == 0).all()):
            raise RuntimeError("draws must be non-negative integers, 0 where the mean is 0")
        again = run_voxnn(exe, "poisson", config, {"input": mean}, workdir, backward=True)
        if sorted(again) != ["out"] or not torch.equal(again["out"], y):
            raise RuntimeError("the same seed gave other draws (or --backward wrote more than out)")
        other = run_voxnn(exe, "poisson", {**config, "seed": config.get("seed", 0) + 1}, {"input": mean}, workdir, False)
        if bool((mean > 0).any()) and torch.equal(other["out"], y):
            raise RuntimeError("another seed gave the same draws")
        for row_mean, row in zip(mean.reshape(mean.shape[0], -1).double(), y.reshape(y.shape[0], -1).double()):
            mu, n = row_mean[0].item(), row.numel()
            if mu == 0 or not bool((row_mean == mu).all()):
                continue
            z = abs(row.mean().item() - mu) / math.sqrt(mu / n)
            if z > 5 or abs(row.var().item() - mu) > 0.35 * mu:
                raise RuntimeError(f"mean {mu}: sample mean {row.mean().item():.3f}, variance {row.var().item():.3f}")
        results[(dtype, "fwd")] = (0.0, 0.0)
        results[(dtype, "bwd")] = (0.0, 0.0)
    return results


PROPERTY_CHECKS = {"poisson": check_poisson}


def check_case(exe, name, config, tensors, workdir):
    """{(dtype, 'fwd'|'bwd'): (error, scale)} for one case."""
    if name in PROPERTY_CHECKS:
        return PROPERTY_CHECKS[name](exe, config, tensors, workdir)
    results = {}
    for dtype in (torch.float64, torch.float32):
        # None (absent) tensors go to PyTorch as None and are left out of voxnn's input file
        typed = {k: v.to(dtype) if v is not None and v.is_floating_point() else v for k, v in tensors.items()}
        present = {k: v for k, v in typed.items() if v is not None}
        outs, diff = reference(name, config, typed)
        want = {k: v.detach() for k, v in outs.items()}
        got = run_voxnn(exe, name, config, present, workdir, backward=False)
        extra = sorted(set(got) - set(want))
        if extra:
            raise RuntimeError(f"unexpected outputs {extra}")
        results[(dtype, "fwd")] = max_error(got, want, want.keys())

        # an upstream gradient for every output that carries a graph in PyTorch: gout, gout_<name>
        gouts = {"g" + k: torch.randn(v.shape, dtype=torch.float64).to(dtype)
                 for k, v in outs.items() if v.is_floating_point() and v.requires_grad}
        grads = reference_grads(outs, diff, gouts)
        got = run_voxnn(exe, name, config, {**present, **gouts}, workdir, backward=True)
        missing = sorted((set(want) | set(grads)) - set(got))
        if missing:
            raise RuntimeError(f"--backward did not write {missing}")
        extra = sorted(set(got) - set(want) - set(grads))
        if extra:
            raise RuntimeError(f"--backward wrote unexpected outputs {extra}")
        results[(dtype, "bwd")] = max_error(got, grads, grads.keys()) if grads else (0.0, 0.0)
        results[(dtype, "fwd")] = max(results[(dtype, "fwd")], max_error(got, want, want.keys()))
    return results


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voxnn", default=os.path.join(here, "..", "build", "tools", "voxnn"), help="the voxnn binary")
    ap.add_argument("--only", default="", help="comma-separated op names")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="nn.functional.(sigmoid|tanh) is deprecated")
    warnings.filterwarnings("ignore", message="Default grid_sample and affine_grid behavior")
    warnings.filterwarnings("ignore", message="torch.meshgrid: in an upcoming release")  # voxelmorph

    names = subprocess.run([args.voxnn, "op", "--list"], capture_output=True, text=True, check=True).stdout.split()
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    torch.manual_seed(args.seed)
    cases = make_cases()
    failed = []
    print("references: " + ", ".join(f"{pkg} {'(package)' if have else '(torch write-out; not importable here)'}"
                                       for pkg, have in (("fastmri", fastmri), ("voxelmorph", vxm_layers))))
    print(f"{'op':30} {'cases':>5} {'f64 out':>10} {'f64 grad':>10} {'f32 out':>10} {'f32 grad':>10}")
    with tempfile.TemporaryDirectory(prefix="voxnn_check_ops_") as workdir:
        for name in names:
            if name not in cases:
                print(f"{name:30} no case in tools/check_ops.py")
                failed.append(name)
                continue
            worst, ok = {}, True
            try:
                for config, tensors in cases[name]:
                    for key, (err, scale) in check_case(args.voxnn, name, config, tensors, workdir).items():
                        ok = ok and err <= TOL[key[0]] * max(1.0, scale)
                        worst[key] = max(worst.get(key, 0.0), err)
            except Exception as e:  # noqa: BLE001 - report and go on with the next op
                print(f"{name:30} ERROR {e}")
                failed.append(name)
                continue
            cells = [f"{worst[(d, p)]:10.2e}" for d in (torch.float64, torch.float32) for p in ("fwd", "bwd")]
            print(f"{name:30} {len(cases[name]):5} {' '.join(cells)}{'' if ok else '  FAIL'}")
            if not ok:
                failed.append(name)
    unused = sorted(set(cases) - set(names)) if not args.only else []
    if unused:
        print(f"cases for ops voxnn does not list: {', '.join(unused)}")
    print(f"{len(names) - len(failed)} of {len(names)} ops within tolerance" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
