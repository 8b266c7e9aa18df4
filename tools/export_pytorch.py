#!/usr/bin/python3
"""Converts a PyTorch checkpoint to safetensors, the format voxnn loads weights from
(voxnn::io::load_safetensors, nn::Module::load_state_dict).

usage: /usr/bin/python3 tools/export_pytorch.py CHECKPOINT [-o OUT.safetensors] [--key K]
           [--prefix-strip P]... [--dtype float32|float64|float16|bfloat16] [--allow-pickle] [--quiet]

CHECKPOINT is a file written by torch.save (.pt, .pth, .ckpt, ...) that holds one of
  - a state_dict (the {name: tensor} dict of model.state_dict()),
  - a wrapper dict with the state_dict under "state_dict" or "model" (other entries such as "epoch"
    or "optimizer" are ignored), or under any key named with --key,
  - a whole pickled nn.Module (torch.save(model)); its state_dict() is exported. Its class must be
    importable (set PYTHONPATH to the code that defines it), and --allow-pickle is required.

Every tensor of the state_dict is written under its state_dict name, in state_dict order, as a
contiguous little-endian copy with its dtype kept (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL, plus
U16 U32 U64 and the float8 types where this torch has them). Tensors that share storage (tied
weights, views of one buffer) are each written as their own copy, as torch's state_dict lists them.
Nested dicts are flattened with "." (as state_dict names are). Non-tensor entries (e.g. an
`_extra_state` object) are skipped with a note on stderr. The header carries the metadata
{"format": "pt", "source": <checkpoint file name>}.

Options
  -o, --output OUT     output file (default: CHECKPOINT with the suffix .safetensors)
  --key K              take the state_dict from checkpoint[K]; "a/b" descends checkpoint["a"]["b"]
  --prefix-strip P     remove the name prefix P where present, e.g. "module." (DataParallel /
                       DistributedDataParallel) or "model."; may be repeated (applied in order)
  --dtype D            cast floating tensors to D (float32, float64, float16, bfloat16); integer and
                       bool tensors are kept as they are
  --allow-pickle       allow torch.load to unpickle arbitrary Python objects (needed for a whole
                       nn.Module, and with torch < 2 for checkpoints holding plain floats such as an
                       optimizer's lr). Unpickling runs code from the file: use it only on files you
                       trust. Without it the checkpoint is read with torch.load(weights_only=True).
  --quiet              print nothing but errors (no summary, no notes)

Exit status 0 on success, 1 with a message starting "export_pytorch:" on any error.

Run it with an interpreter that has torch (on Debian: /usr/bin/python3 with python3-torch). It
needs neither numpy beyond what torch uses nor the safetensors package: the writer is below.
"""

import argparse
import collections
import json
import os
import pathlib
import struct
import sys
import tempfile

import torch

HEADER_LIMIT = 100_000_000  # the reference reader's cap on the JSON header


def _dtype_table():
    names = [
        ("float64", "F64"), ("float32", "F32"), ("float16", "F16"), ("bfloat16", "BF16"),
        ("int64", "I64"), ("int32", "I32"), ("int16", "I16"), ("int8", "I8"), ("uint8", "U8"),
        ("bool", "BOOL"), ("uint16", "U16"), ("uint32", "U32"), ("uint64", "U64"),
        ("float8_e4m3fn", "F8_E4M3"), ("float8_e5m2", "F8_E5M2"),
    ]
    # newer dtypes exist only in newer torch releases
    return {getattr(torch, t): s for t, s in names if hasattr(torch, t)}


DTYPES = _dtype_table()
CASTS = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
         "bfloat16": torch.bfloat16}


class ExportError(Exception):
    pass


def load_checkpoint(path, allow_pickle):
    with open(path, "rb") as f:
        magic = f.read(4)
    # torch.save writes a zip archive (since 1.6) or, with _use_new_zipfile_serialization=False, a pickle
    if not (magic.startswith(b"PK\x03\x04") or magic.startswith(b"\x80")):
        raise ExportError(f"{path} is not a PyTorch checkpoint (neither a zip archive nor a pickle stream)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # a torch without weights_only (< 1.13): only the full unpickler exists
        if not allow_pickle:
            raise ExportError(f"this torch ({torch.__version__}) cannot load without unpickling; if you trust "
                              f"{path}, run again with --allow-pickle")
    except Exception as e:  # the weights-only unpickler refused something, or the file is not a checkpoint
        if not allow_pickle or not _is_pickle_refusal(e):
            if _is_pickle_refusal(e):
                detail = str(e).split("WeightsUnpickler error:")[-1].strip()
                raise ExportError(f"{path} holds Python objects that the weights-only loader refuses ({detail}: "
                                  f"a whole nn.Module, optimizer settings, ...); if you trust the file, run again "
                                  f"with --allow-pickle") from None
            raise ExportError(f"cannot read {path} as a PyTorch checkpoint: {e}") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:
        return torch.load(path, map_location="cpu")
    except Exception as e:
        raise ExportError(f"cannot read {path} as a PyTorch checkpoint: {e}") from None


def _is_pickle_refusal(e):
    import pickle
    return isinstance(e, pickle.UnpicklingError) and "weights" in str(e).lower()


def _is_tensor_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())


def pick_state_dict(obj, key):
    """The {name: tensor-or-nested-dict} to export from what torch.load returned."""
    if key:
        for part in key.split("/"):
            if isinstance(obj, torch.nn.Module):
                obj = obj.state_dict()
            if not isinstance(obj, dict) or part not in obj:
                have = sorted(map(str, obj.keys())) if isinstance(obj, dict) else type(obj).__name__
                raise ExportError(f"--key {key}: no entry '{part}' (have: {have})")
            obj = obj[part]
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if not isinstance(obj, dict):
        raise ExportError(f"the checkpoint holds a {type(obj).__name__}, not a state_dict, a dict or an nn.Module")
    if not key and not _is_tensor_dict(obj):
        for wrapper in ("state_dict", "model"):
            inner = obj.get(wrapper)
            if isinstance(inner, torch.nn.Module):
                return inner.state_dict()
            if isinstance(inner, dict):
                return inner
        if not any(isinstance(v, (torch.Tensor, dict)) for v in obj.values()):
            raise ExportError(f"the checkpoint dict holds no tensors; its keys are {sorted(map(str, obj.keys()))}: "
                              f"name the state_dict with --key")
    return obj


def flatten(state, prefix="", out=None, skipped=None):
    """(name, tensor) pairs in order; nested dicts are joined with '.'."""
    out = [] if out is None else out
    skipped = [] if skipped is None else skipped
    for k, v in state.items():
        name = f"{prefix}{k}"
        if isinstance(v, torch.Tensor):
            out.append((name, v))
        elif isinstance(v, dict):
            flatten(v, name + ".", out, skipped)
        else:
            skipped.append((name, type(v).__name__))
    return out, skipped


def strip_prefixes(name, prefixes):
    for p in prefixes:
        if p and name.startswith(p):
            name = name[len(p):]
    return name


def tensor_bytes(name, t):
    """Little-endian bytes of the tensor's contiguous row-major copy."""
    if t.is_sparse or t.layout != torch.strided:
        raise ExportError(f"tensor '{name}' has layout {t.layout}; only dense (strided) tensors can be exported")
    if t.is_quantized:
        raise ExportError(f"tensor '{name}' is quantized ({t.dtype}); dequantize it first")
    if t.dtype not in DTYPES:
        raise ExportError(f"tensor '{name}' has dtype {t.dtype}, which safetensors cannot store")
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    size = flat.element_size()
    if flat.numel() == 0:
        return b""
    if size > 1:
        # reinterpret as same-width integers: numpy has no bfloat16 or float8
        as_int = {2: torch.int16, 4: torch.int32, 8: torch.int64}[size]
        flat = flat.view(as_int)
    elif flat.dtype != torch.uint8:
        flat = flat.view(torch.uint8) if flat.dtype != torch.bool else flat.to(torch.uint8)
    array = flat.numpy()
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def build(tensors, metadata):
    """The file's bytes: 8-byte header length, JSON header padded with spaces to a multiple of 8,
    then the tensors packed in order."""
    header = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for name, t in tensors:
        data = tensor_bytes(name, t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    if len(text) > HEADER_LIMIT:
        raise ExportError(f"the header would have {len(text)} bytes, over the limit of {HEADER_LIMIT}")
    return [struct.pack("<Q", len(text)), text] + blobs


def export(src, dst, key=None, prefixes=(), dtype=None, allow_pickle=False, log=print):
    obj = load_checkpoint(src, allow_pickle)
    state = pick_state_dict(obj, key)
    pairs, skipped = flatten(state)
    for name, kind in skipped:
        log(f"export_pytorch: note: skipped '{name}' ({kind}, not a tensor)", file=sys.stderr)
    if not pairs:
        raise ExportError(f"no tensors to export from {src}")

    named = collections.OrderedDict()
    storages = {}
    for name, t in pairs:
        new = strip_prefixes(name, prefixes)
        if not new:
            raise ExportError(f"stripping the prefixes from '{name}' leaves an empty name")
        if new == "__metadata__":
            raise ExportError("'__metadata__' is reserved in safetensors and cannot name a tensor")
        if new in named:
            raise ExportError(f"two tensors are both named '{new}' after stripping the prefixes")
        if t.numel() > 0 and t.layout == torch.strided and not t.is_quantized:
            ptr = t.untyped_storage().data_ptr() if hasattr(t, "untyped_storage") else t.storage().data_ptr()
            storages.setdefault(ptr, []).append(new)
        if dtype is not None and t.is_floating_point():
            t = t.to(CASTS[dtype])
        named[new] = t
    for names in storages.values():
        if len(names) > 1:
            log(f"export_pytorch: note: {', '.join(names)} share storage; each is written as its own copy",
                file=sys.stderr)

    metadata = {"format": "pt", "source": pathlib.Path(src).name}
    pieces = build(list(named.items()), metadata)
    dst = pathlib.Path(dst)
    # write next to the destination, then rename: a failed export never leaves half a file
    fd, tmp = tempfile.mkstemp(prefix=".export_pytorch_", dir=dst.parent if str(dst.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as f:
            for p in pieces:
                f.write(p)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; give it an ordinary file's mode
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    total = sum(len(p) for p in pieces)
    log(f"export_pytorch: wrote {len(named)} tensors ({total} bytes) to {dst}")
    return named


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="export_pytorch.py", description="Converts a PyTorch checkpoint's state_dict to safetensors.",
        epilog="Details: the docstring at the top of tools/export_pytorch.py.")
    parser.add_argument("checkpoint", help="file written by torch.save")
    parser.add_argument("-o", "--output", help="output .safetensors (default: CHECKPOINT with that suffix)")
    parser.add_argument("--key", help="state_dict location inside the checkpoint, e.g. state_dict or model/ema")
    parser.add_argument("--prefix-strip", action="append", default=[], metavar="P",
                        help="remove this name prefix (e.g. module.); repeatable")
    parser.add_argument("--dtype", choices=sorted(CASTS), help="cast floating tensors to this dtype")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="allow full unpickling (whole nn.Module); only for trusted files")
    parser.add_argument("--quiet", action="store_true", help="print only errors")
    args = parser.parse_args(argv)

    src = pathlib.Path(args.checkpoint)
    dst = pathlib.Path(args.output) if args.output else src.with_suffix(".safetensors")
    if dst.resolve() == src.resolve():
        sys.exit(f"export_pytorch: the output {dst} would overwrite the checkpoint")
    if not src.is_file():
        sys.exit(f"export_pytorch: no such file: {src}")

    def log(*a, file=None, **kw):
        if not args.quiet:
            print(*a, file=file or sys.stdout, **kw)

    try:
        export(src, dst, args.key, args.prefix_strip, args.dtype, args.allow_pickle, log)
    except ExportError as e:
        sys.exit(f"export_pytorch: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
