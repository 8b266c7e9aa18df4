#!/usr/bin/python3
"""Writes the fuzz seed corpora: tests/fuzz/corpus/{safetensors,nifti}/.

    /usr/bin/python3 tests/fuzz/make_corpus.py [CORPUS_DIR]

Needs only Debian's python3 with numpy (struct, gzip and json are in the standard library). The
output is deterministic (gzip members carry mtime 0), so rerunning it leaves a clean git diff. Each
corpus holds small valid files (the shapes a fuzzer should mutate from) and hostile ones (the
mistakes and attacks a reader must turn into a voxnn::Error); every file stays under a few KB.
"""
import gzip
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


# ---- NIfTI -------------------------------------------------------------------------------------

NIFTI_TYPES = {  # numpy dtype char -> (NIfTI datatype code, bitpix)
    "u1": (2, 8), "i2": (4, 16), "i4": (8, 32), "f4": (16, 32), "f8": (64, 64), "i1": (256, 8),
    "u2": (512, 16), "u4": (768, 32), "i8": (1024, 64), "u8": (1280, 64),
}


def nifti1_header(shape, code, bitpix, endian="<", vox_offset=352.0, pixdim=(1, 1, 1, 1), slope=0.0,
                  inter=0.0, qform=0, sform=1, quat=(0.0, 0.0, 0.0), qoffset=(0.0, 0.0, 0.0),
                  srows=((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0)), qfac=1.0, magic=b"n+1\0",
                  sizeof_hdr=348, dims=None, descrip=b"voxnn fuzz seed"):
    """348 bytes of NIfTI-1 header. dims overrides dim[0..7] verbatim (for hostile values)."""
    e = endian
    h = bytearray(348)
    struct.pack_into(e + "i", h, 0, sizeof_hdr)
    h[38] = ord("r")
    d = list(dims) if dims is not None else [len(shape)] + list(shape) + [1] * (7 - len(shape))
    struct.pack_into(e + "8h", h, 40, *d)
    struct.pack_into(e + "hh", h, 70, code, bitpix)
    pd = [qfac] + list(pixdim) + [1.0] * (7 - len(pixdim))
    struct.pack_into(e + "8f", h, 76, *pd)
    struct.pack_into(e + "fff", h, 108, vox_offset, slope, inter)
    h[123] = 2 | 8  # mm, seconds
    h[148:148 + len(descrip)] = descrip
    struct.pack_into(e + "hh", h, 252, qform, sform)
    struct.pack_into(e + "6f", h, 256, *quat, *qoffset)
    for r, row in enumerate(srows):
        struct.pack_into(e + "4f", h, 280 + 16 * r, *row)
    h[344:348] = magic
    return bytes(h)


def nifti2_header(shape, code, bitpix, endian="<", vox_offset=544, pixdim=(1, 1, 1, 1), slope=0.0,
                  inter=0.0, qform=0, sform=1, quat=(0.0, 0.0, 0.0), qoffset=(0.0, 0.0, 0.0),
                  srows=((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0)), qfac=1.0, dims=None,
                  magic=b"n+2\0\r\n\x1a\n"):
    """540 bytes of NIfTI-2 header."""
    e = endian
    h = bytearray(540)
    struct.pack_into(e + "i", h, 0, 540)
    h[4:12] = magic
    struct.pack_into(e + "hh", h, 12, code, bitpix)
    d = list(dims) if dims is not None else [len(shape)] + list(shape) + [1] * (7 - len(shape))
    struct.pack_into(e + "8q", h, 16, *d)
    pd = [qfac] + list(pixdim) + [1.0] * (7 - len(pixdim))
    struct.pack_into(e + "8d", h, 104, *pd)
    struct.pack_into(e + "qdd", h, 168, vox_offset, slope, inter)
    h[240:255] = b"voxnn fuzz seed"
    struct.pack_into(e + "ii", h, 344, qform, sform)
    struct.pack_into(e + "6d", h, 352, *quat, *qoffset)
    for r, row in enumerate(srows):
        struct.pack_into(e + "4d", h, 400 + 32 * r, *row)
    struct.pack_into(e + "ii", h, 496, 0, 2 | 8)
    return bytes(h)


def extension(code, payload, endian="<"):
    """One header extension: esize (a multiple of 16, including its 8 bytes), ecode, payload."""
    size = 8 + len(payload)
    size += -size % 16
    return struct.pack(endian + "ii", size, code) + payload + b"\0" * (size - 8 - len(payload))


def voxels(arr, endian="<"):
    """The file's data block: i fastest (Fortran order), in the given byte order."""
    a = np.asarray(arr)
    return np.asfortranarray(a.astype(a.dtype.newbyteorder(endian))).tobytes(order="F")


def nifti1(arr, endian="<", ext=b"", **kw):
    a = np.asarray(arr)
    code, bitpix = NIFTI_TYPES[a.dtype.str[1:]]
    extender = b"\1\0\0\0" if ext else b"\0\0\0\0"
    off = 348 + 4 + len(ext)
    kw.setdefault("vox_offset", float(off))
    return nifti1_header(a.shape, code, bitpix, endian, **kw) + extender + ext + voxels(a, endian)


def nifti2(arr, endian="<", ext=b"", **kw):
    a = np.asarray(arr)
    code, bitpix = NIFTI_TYPES[a.dtype.str[1:]]
    extender = b"\1\0\0\0" if ext else b"\0\0\0\0"
    kw.setdefault("vox_offset", 540 + 4 + len(ext))
    return nifti2_header(a.shape, code, bitpix, endian, **kw) + extender + ext + voxels(a, endian)


def gz(raw):
    return gzip.compress(raw, compresslevel=9, mtime=0)


def nifti_seeds():
    rng = np.random.default_rng(7)
    f32 = rng.standard_normal((4, 3, 2)).astype(np.float32)
    f32[0, 0, 0] = np.nan
    i16 = np.arange(-12, 12, dtype=np.int16).reshape(2, 3, 4)
    u8_4d = np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3)
    f64 = np.linspace(-1, 1, 8).reshape(2, 2, 2)
    oblique = ((0.9, -0.1, 0.0, -10.0), (0.1, 0.9, 0.2, 5.0), (0.0, -0.2, 1.1, 3.0))
    seeds = {
        "n1_f32_sform.nii": nifti1(f32, pixdim=(2.0, 2.5, 3.0), srows=oblique, qform=1,
                                   quat=(0.0, 0.0, 0.0), qoffset=(-10.0, 5.0, 3.0)),
        "n1_i16_scaled_qform.nii": nifti1(i16, slope=2.0, inter=-1.0, qform=1, sform=0,
                                          quat=(0.1, -0.2, 0.3), qoffset=(1.0, 2.0, 3.0), qfac=-1.0),
        "n1_u8_4d.nii": nifti1(u8_4d, pixdim=(1.0, 1.0, 1.0, 0.5)),
        "n1_f64_bigendian.nii": nifti1(f64, endian=">", sform=2, qform=1, quat=(0.0, 0.0, 1.0)),
        "n1_i16_bigendian_scaled.nii": nifti1(i16, endian=">", slope=0.5, inter=10.0),
        "n1_with_extension.nii": nifti1(f64.astype(np.float32), ext=extension(6, b'{"comment": "seed"}')
                                        + extension(4, b"\x01\x02\x03")),
        "n1_f32.nii.gz": gz(nifti1(f32)),
        "n1_bigendian_ext.nii.gz": gz(nifti1(i16, endian=">", ext=extension(6, b"abc", ">"))),
        "n1_5d.nii": nifti1(np.arange(16, dtype=np.float32).reshape(2, 2, 2, 1, 2)),
        "n1_2d.nii": nifti1(np.arange(6, dtype=np.uint16).reshape(3, 2)),
        "n1_1d_i8.nii": nifti1(np.array([-128, 0, 127], dtype=np.int8)),
        "n1_i32.nii": nifti1(np.array([[[-(2**31), 2**31 - 1]]], dtype=np.int32)),
        "n1_u32.nii": nifti1(np.array([[[0, 2**32 - 1]]], dtype=np.uint32)),
        "n1_i64.nii": nifti1(np.array([[[-(2**63), 2**62]]], dtype=np.int64)),
        "n1_u64.nii": nifti1(np.array([[[0, 2**64 - 1]]], dtype=np.uint64)),
        "n1_vox_offset_gap.nii": nifti1(f64, vox_offset=400.0)[:352] + b"\0" * 48 + voxels(f64),
        "n1_no_transform.nii": nifti1(i16, qform=0, sform=0),
        "n2_f32.nii": nifti2(f32, srows=oblique, qform=1, quat=(0.0, 0.0, 0.0)),
        "n2_i16_bigendian.nii": nifti2(i16, endian=">", slope=3.0, sform=0, qform=1, quat=(0.5, 0.5, 0.5)),
        "n2_u8_4d_ext.nii": nifti2(u8_4d, ext=extension(40, b"nifti2 ext")),
        "n2_f64.nii.gz": gz(nifti2(f64, qform=2, sform=0, qfac=-1.0)),
        "n2_bigendian.nii.gz": gz(nifti2(f32, endian=">")),
    }

    ok1 = nifti1(f32)
    ok2 = nifti2(f32)
    hdr1 = ok1[:348]
    data1 = ok1[352:]

    def patch(raw, offset, fmt, *values):
        b = bytearray(raw)
        struct.pack_into(fmt, b, offset, *values)
        return bytes(b)

    bomb_zeros = b"\0" * (4 << 20)  # 4 MiB of zeros compress to ~4 KiB
    hostile = {
        "trunc_header.nii": ok1[:100],
        "trunc_header2.nii": ok2[:300],
        "trunc_data.nii": ok1[:-5],
        "trunc_extender.nii": ok1[:350],
        "empty.nii": b"",
        "sizeof_hdr_wrong.nii": patch(ok1, 0, "<i", 349),
        "sizeof_hdr_swapped_wrong.nii": patch(ok1, 0, ">i", 347),
        "bad_magic.nii": ok1[:344] + b"xyz\0" + ok1[348:],
        "pair_magic.nii": ok1[:344] + b"ni1\0" + ok1[348:],
        "n2_bad_magic.nii": ok2[:4] + b"n+2\0\n\r\x1a\n" + ok2[12:],
        "dims_huge.nii": nifti1_header((), 16, 32, dims=(3, 32767, 32767, 32767, 1, 1, 1, 1)) + b"\0" * 68,
        "dims_negative.nii": nifti1_header((), 16, 32, dims=(3, -4, 3, 2, 1, 1, 1, 1)) + b"\0" * 100,
        "dims_zero.nii": nifti1_header((), 16, 32, dims=(3, 0, 3, 2, 1, 1, 1, 1)) + b"\0" * 4,
        "dim0_zero.nii": nifti1_header((), 16, 32, dims=(0, 4, 3, 2, 1, 1, 1, 1)) + b"\0" * 100,
        "dim0_eight.nii": nifti1_header((), 16, 32, dims=(8, 1, 1, 1, 1, 1, 1, 1)) + b"\0" * 8,
        "dim0_negative.nii": nifti1_header((), 16, 32, dims=(-1, 4, 3, 2, 1, 1, 1, 1)) + b"\0" * 100,
        "dims_unused_garbage.nii": nifti1_header((), 16, 32, dims=(3, 4, 3, 2, -7, 32767, 0, -1)) + b"\0" * 100,
        "n2_dims_overflow.nii": nifti2_header((), 16, 32, dims=(3, 2**31, 2**31, 2**31, 1, 1, 1, 1)) + b"\0" * 8,
        "n2_dims_int64_max.nii": nifti2_header((), 64, 64, dims=(3, 2**63 - 1, 2, 1, 1, 1, 1, 1)) + b"\0" * 8,
        "n2_dims_negative.nii": nifti2_header((), 16, 32, dims=(3, -(2**63), 1, 1, 1, 1, 1, 1)) + b"\0" * 8,
        "vox_offset_negative.nii": patch(ok1, 108, "<f", -352.0),
        "vox_offset_inside_header.nii": patch(ok1, 108, "<f", 12.0),
        "vox_offset_huge.nii": patch(ok1, 108, "<f", 1e30),
        "vox_offset_nan.nii": patch(ok1, 108, "<f", float("nan")),
        "vox_offset_inf.nii": patch(ok1, 108, "<f", float("inf")),
        "vox_offset_fraction.nii": patch(ok1, 108, "<f", 352.5),
        "vox_offset_past_end.nii": patch(ok1, 108, "<f", 4096.0),
        "n2_vox_offset_negative.nii": patch(ok2, 168, "<q", -(2**63)),
        "n2_vox_offset_huge.nii": patch(ok2, 168, "<q", 2**62),
        "datatype_unknown.nii": patch(ok1, 70, "<hh", 9999, 32),
        "datatype_float128.nii": patch(ok1, 70, "<hh", 1536, 128),
        "datatype_complex64.nii": patch(ok1, 70, "<hh", 32, 64),
        "datatype_rgb24.nii": patch(ok1, 70, "<hh", 128, 24),
        "datatype_binary.nii": patch(ok1, 70, "<hh", 1, 1),
        "bitpix_mismatch.nii": patch(ok1, 70, "<hh", 16, 64),
        "ext_esize_zero.nii": hdr1 + b"\1\0\0\0" + struct.pack("<ii", 0, 6) + b"\0" * 8 + data1,
        "ext_esize_negative.nii": patch(hdr1, 108, "<f", 368.0) + b"\1\0\0\0"
        + struct.pack("<ii", -16, 6) + b"\0" * 8 + data1,
        "ext_esize_past_offset.nii": patch(hdr1, 108, "<f", 368.0) + b"\1\0\0\0"
        + struct.pack("<ii", 4096, 6) + b"\0" * 8 + data1,
        "ext_esize_odd.nii": patch(hdr1, 108, "<f", 368.0) + b"\1\0\0\0"
        + struct.pack("<ii", 13, 6) + b"\0" * 8 + data1,
        "ext_esize_int_max.nii": patch(hdr1, 108, "<f", 368.0) + b"\1\0\0\0"
        + struct.pack("<ii", 2**31 - 16, 6) + b"\0" * 8 + data1,
        "ext_truncated.nii": patch(hdr1, 108, "<f", 400.0) + b"\1\0\0\0" + struct.pack("<ii", 48, 6),
        "scl_slope_nan.nii": patch(ok1, 112, "<ff", float("nan"), 0.0),
        "scl_slope_inf.nii": patch(ok1, 112, "<ff", float("inf"), float("-inf")),
        "pixdim_weird.nii": patch(ok1, 76, "<8f", 7.0, 0.0, -1.0, float("nan"), float("inf"), 0, 0, 0),
        "quatern_not_unit.nii": patch(patch(ok1, 252, "<hh", 1, 0), 256, "<3f", 0.9, 0.9, 0.9),
        "quatern_nan.nii": patch(patch(ok1, 252, "<hh", 1, 0), 256, "<3f", float("nan"), 0.0, 0.0),
        "sform_nan.nii": patch(ok1, 280, "<4f", float("nan"), float("inf"), 0.0, 1.0),
        "sform_singular.nii": patch(ok1, 280, "<12f", *([0.0] * 12)),
        "xform_codes_weird.nii": patch(ok1, 252, "<hh", -3, 32767),
        "gz_truncated.nii.gz": gz(ok1)[:-20],
        "gz_trunc_header.nii.gz": gz(ok1)[:40],
        "gz_bad_crc.nii.gz": gz(ok1)[:-8] + b"\xde\xad\xbe\xef" + gz(ok1)[-4:],
        "gz_bad_isize.nii.gz": gz(ok1)[:-4] + struct.pack("<I", 7),
        "gz_two_members.nii.gz": gz(ok1[:200]) + gz(ok1[200:]),
        "gz_magic_only.nii.gz": b"\x1f\x8b",
        "gz_empty_member.nii.gz": gz(b""),
        "gz_bad_method.nii.gz": b"\x1f\x8b\x07\x00" + gz(ok1)[4:],
        "gz_bomb_small_dims.nii.gz": gz(nifti1(np.zeros((2, 2, 2), np.uint8)) + bomb_zeros),
        "gz_bomb_big_dims.nii.gz": gz(nifti1_header((), 16, 32, dims=(3, 1024, 1024, 1024, 1, 1, 1, 1))
                                      + b"\0" * 4 + bomb_zeros),
        "gz_big_dims_short_stream.nii.gz": gz(nifti1_header((), 64, 64, dims=(3, 32767, 32767, 32767, 1, 1, 1, 1))
                                              + b"\0" * 64),
        "gz_n2_huge_dims.nii.gz": gz(nifti2_header((), 16, 32, dims=(3, 2**20, 2**20, 2**20, 1, 1, 1, 1))
                                     + b"\0" * 4 + b"\0" * 1000),
        "gz_trailing_garbage.nii.gz": gz(ok1) + b"garbage after the member",
    }
    for name, raw in hostile.items():
        seeds["hostile_" + name] = raw
    return seeds


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
    write(os.path.join(root, "nifti"), nifti_seeds())


if __name__ == "__main__":
    main()
