#!/usr/bin/python3
"""Writes the safetensors fuzz seed corpus: tests/fuzz/corpus/safetensors/. (The NIfTI seeds are
written at test time by make_nifti_seeds.cpp with voxnn's own writer: no volume files are committed.)

    /usr/bin/python3 tests/fuzz/make_corpus.py [CORPUS_DIR]

Needs only Debian's python3 with numpy (struct and json are in the standard library). The
output is deterministic, so rerunning it leaves a clean git diff. Each
corpus holds small valid files (the shapes a fuzzer should mutate from) and hostile ones (the
mistakes and attacks a reader must turn into a voxnn::Error); every file stays under a few KB.
"""
import json
import os
import struct
import sys

import numpy as np

MAX_SEED_BYTES = 8192  # the fuzz tests run with -max_len=8192: longer seeds would be cut


# ---- safetensors -------------------------------------------------------------------------------

ST_DTYPES = {  # safetensors name -> numpy little-endian dtype
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": None, "I64": "<i8", "I32": "<i4",
    "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}


def st_bytes(arr, dtype):
    if dtype == "BF16":  # the high half of a float32
        return (np.asarray(arr, "<f4").view("<u4") >> 16).astype("<u2").tobytes()
    return np.asarray(arr, ST_DTYPES[dtype]).tobytes()


def st_file(tensors, metadata=None, pad=True, reverse_data=False):
    """tensors: list of (name, dtype, shape, raw bytes). Offsets are packed in list order, or with
    the data buffer reversed (reverse_data) so that file order differs from header order."""
    header, chunks, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    order = list(reversed(tensors)) if reverse_data else tensors
    where = {}
    for name, _, _, raw in order:
        where[name] = (offset, offset + len(raw))
        chunks.append(raw)
        offset += len(raw)
    for name, dtype, shape, _ in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": list(where[name])}
    return st_raw(json.dumps(header, separators=(",", ":")), b"".join(chunks), pad)


def st_raw(header_text, data=b"", pad=True, length=None):
    h = header_text.encode("utf-8") if isinstance(header_text, str) else header_text
    if pad:
        h += b" " * (-len(h) % 8)
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def safetensors_seeds():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3)).astype("<f4")
    many = [
        ("weight", "F32", (2, 3), st_bytes(a, "F32")),
        ("bias", "F64", (4,), st_bytes([0.5, -1.0, np.inf, np.nan], "F64")),
        ("half", "F16", (3,), st_bytes([1.0, -0.0, 65504.0], "F16")),
        ("bhalf", "BF16", (2,), st_bytes([3.0, -2.5], "BF16")),
        ("steps", "I64", (2, 2), st_bytes([0, -1, 2**62, -(2**63)], "I64")),
        ("idx", "I32", (1,), st_bytes([7], "I32")),
        ("short", "I16", (3,), st_bytes([-3, 0, 32767], "I16")),
        ("tiny", "I8", (2,), st_bytes([-128, 127], "I8")),
        ("labels", "U8", (5,), st_bytes([0, 1, 2, 255, 4], "U8")),
        ("mask", "BOOL", (3,), bytes([0, 1, 1])),
    ]
    seeds = {
        "valid_all_dtypes": st_file(many, metadata={"format": "pt", "note": "seed"}),
        "valid_empty": st_raw("{}"),
        "valid_metadata_only": st_raw('{"__metadata__":{"a":"b"}}'),
        "valid_scalar": st_file([("s", "F32", (), st_bytes([1.5], "F32"))]),
        "valid_zero_extent": st_file([("z", "F32", (0, 3), b""), ("w", "U8", (2,), b"\x01\x02")]),
        "valid_unpadded_reordered": st_file(many[:4], pad=False, reverse_data=True),
        "valid_5d": st_file([("v", "F32", (1, 1, 2, 2, 2), st_bytes(np.arange(8), "F32"))]),
        "valid_unicode_names": st_raw(
            '{"\\u00e9t\\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
            '"\xe2\x82\xac\\ud83d\\ude00":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}'.encode("latin-1"),
            b"\x05\x06"),
        "valid_unknown_fields": st_raw(
            '{"t":{"extra":[1,{"x":"y"}],"dtype":"I32","shape":[2],"data_offsets":[0,8],"more":-5}}',
            st_bytes([1, 2], "I32")),
        "valid_nul_in_name": st_raw('{"a\\u0000b\\n":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00"),
        "valid_whitespace": st_raw(' \n{ "t" : { "dtype" : "U8" , "shape" : [ 2 ] , '
                                   '"data_offsets" : [ 0 , 2 ] } }\t', b"ab"),
    }
    good = '{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    data8 = st_bytes([1, 2], "F32")
    hostile = {
        "trunc_length_field": b"\x10\x00\x00",
        "trunc_header": st_raw(good, data8)[:20],
        "trunc_data": st_raw(good, data8)[:-3],
        "length_2p63": st_raw(good, data8, length=2**63),
        "length_max": st_raw(good, data8, length=2**64 - 1),
        "length_over_limit": st_raw(good, data8, length=100_000_001),
        "length_past_end": st_raw(good, data8, length=len(good) + 40),
        "length_zero": st_raw(good, data8, length=0),
        "offsets_negative": st_raw('{"t":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}', data8),
        "offsets_reversed": st_raw('{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', data8),
        "offsets_past_buffer": st_raw('{"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', data8),
        "offsets_huge": st_raw('{"t":{"dtype":"F32","shape":[2],'
                               '"data_offsets":[9223372036854775800,9223372036854775807]}}', data8),
        "offsets_overflow_int64": st_raw('{"t":{"dtype":"F32","shape":[2],'
                                         '"data_offsets":[0,18446744073709551616]}}', data8),
        "offsets_three": st_raw('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}', data8),
        "offsets_float": st_raw('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}', data8),
        "offsets_overlap": st_raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                  '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', data8),
        "offsets_alias": st_raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                '"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', data8),
        "size_mismatch": st_raw('{"t":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}', data8),
        "shape_huge": st_raw('{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}', data8),
        "shape_overflow_zero": st_raw('{"t":{"dtype":"F32","shape":[0,4294967296,4294967296],'
                                      '"data_offsets":[0,0]}}', data8),
        "shape_negative": st_raw('{"t":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}', data8),
        "shape_rank9": st_raw('{"t":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}', b"\x00"),
        "shape_not_array": st_raw('{"t":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}', data8),
        "dtype_unknown": st_raw('{"t":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}}', data8),
        "dtype_not_string": st_raw('{"t":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}', data8),
        "field_missing": st_raw('{"t":{"dtype":"F32","shape":[2]}}', data8),
        "entry_not_object": st_raw('{"t":[1,2]}', data8),
        "metadata_not_object": st_raw('{"__metadata__":"x"}'),
        "metadata_int_value": st_raw('{"__metadata__":{"epoch":3}}'),
        "metadata_twice": st_raw('{"__metadata__":{},"__metadata__":{}}'),
        "name_duplicate_escaped": st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                         '"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"xy"),
        "json_trailing_comma": st_raw('{"t":{"dtype":"F32","shape":[2,],"data_offsets":[0,8]},}', data8),
        "json_literals": st_raw('{"t":{"dtype":null,"shape":[true],"data_offsets":[false,0]}}', data8),
        "json_not_object": st_raw("[1,2,3]"),
        "json_deep": st_raw('{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":' + "[" * 200 + "]" * 200
                            + "}}", b"\x00"),
        "json_unterminated": st_raw('{"t":{"dtype":"F32'),
        "json_trailing_text": st_raw('{}{}'),
        "json_leading_zero": st_raw('{"t":{"dtype":"U8","shape":[01],"data_offsets":[0,1]}}', b"\x00"),
        "json_bad_utf8": st_raw(b'{"\xc0\xaf":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00"),
        "json_truncated_utf8": st_raw(b'{"\xe2\x82', pad=False),
        "json_lone_surrogate": st_raw('{"\\ud800x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00"),
        "json_control_char": st_raw('{"a\x01":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00"),
        "json_bad_escape": st_raw('{"a\\q":{}}'),
        "reserved_name_entry": st_raw('{"__metadata__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00"),
    }
    for name, raw in hostile.items():
        seeds["hostile_" + name] = raw
    return {k + ".safetensors": v for k, v in seeds.items()}


def write(outdir, files):
    os.makedirs(outdir, exist_ok=True)
    for old in os.listdir(outdir):
        os.remove(os.path.join(outdir, old))
    for name, raw in sorted(files.items()):
        assert len(raw) <= MAX_SEED_BYTES, (name, len(raw))
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(raw)
    print(f"{outdir}: {len(files)} files, {sum(map(len, files.values()))} bytes")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    write(os.path.join(root, "safetensors"), safetensors_seeds())


if __name__ == "__main__":
    main()
