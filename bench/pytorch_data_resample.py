"""Reference side of bench/bench_data_resample.cpp: the same volumes, grids and modes (see that file's
header) with torch.nn.functional.affine_grid + grid_sample (align_corners=True, so that -1 and 1 are the
first and last voxel centres, as in voxnn's field of view; the sampling grid is built inside the timed
call, as voxnn computes its coordinates inside its own) and, when scipy imports (the reference venv,
/work/venv-ref), scipy.ndimage.affine_transform(order=1, or order=0 for "nearest", mode="constant",
cval=nan), the resampler nibabel's resample_from_to uses.
torch_cases(torch) -> [(name, zero-argument callable)]: the torch cases carry the voxnn benchmark's name,
the scipy ones the same name plus ".scipy". The caller sets the thread count (scipy is single-threaded)."""

import math


def _rigid_about_centre(n):
    """voxel -> voxel map of bench_data_resample.cpp's rigid_about_centre (4x4 nested lists)."""
    ax, ay, az = 0.3, 0.2, 0.1
    cx, sx, cy, sy, cz, sz = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay), math.cos(az), math.sin(az)
    rz = [[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]]
    ry = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]
    rx = [[1, 0, 0], [0, cx, -sx], [0, sx, cx]]

    def mul(a, b):
        return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]

    r = mul(mul(rz, ry), rx)
    c = (n - 1) / 2
    t = [3, 4, 5]
    # world = R (v - c) + c + t  ->  affine [R | t + c - R c]
    rc = [sum(r[i][k] * c for k in range(3)) for i in range(3)]
    return [r[0] + [t[0] + c - rc[0]], r[1] + [t[1] + c - rc[1]], r[2] + [t[2] + c - rc[2]], [0, 0, 0, 1]]


def _invert(a):
    import numpy as np
    return np.linalg.inv(np.array(a, dtype=np.float64))


def torch_cases(torch):
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    mni = torch.rand(197, 233, 189, generator=gen)
    mni64 = mni.double()
    vol128 = torch.rand(128, 128, 128, generator=gen)
    vol128x4 = torch.rand(128, 128, 128, 4, generator=gen)
    mni_out = [round((n - 1) / 1.5 + 1) for n in (197, 233, 189)]  # MONAI Spacing's shape: 132, 156, 126

    def theta_for(vox_map, in_shape, out_shape, dtype):
        """affine_grid's theta for a target-voxel -> input-voxel map, both in align_corners=True
        normalised coordinates; theta works on (x, y, z) = (W, H, D) = (k, j, i)."""
        import numpy as np
        m = np.array(vox_map, dtype=np.float64)
        # normalised n = 2 v / (size - 1) - 1 per axis; v = (n + 1) (size - 1) / 2
        def denorm(shape):
            d = np.eye(4)
            for a, s in enumerate(shape):
                d[a, a] = (s - 1) / 2 if s > 1 else 1
                d[a, 3] = (s - 1) / 2 if s > 1 else 0
            return d
        full = np.linalg.inv(denorm(in_shape)) @ m @ denorm(out_shape)
        perm = np.zeros((4, 4))
        perm[0, 2] = perm[1, 1] = perm[2, 0] = perm[3, 3] = 1  # (i, j, k) <-> (x, y, z)
        full = perm @ full @ perm
        return torch.tensor(full[:3][None], dtype=dtype)

    scale = [[1.5, 0, 0, 0], [0, 1.5, 0, 0], [0, 0, 1.5, 0], [0, 0, 0, 1]]
    rigid_inv = _invert(_rigid_about_centre(128)).tolist()

    def torch_case(x, vox_map, out_shape, mode, channels_last=False):
        inp = x.permute(3, 0, 1, 2)[None] if channels_last else x[None, None]
        theta = theta_for(vox_map, list(x.shape[:3]), out_shape, x.dtype)
        size = [1, inp.shape[1]] + list(out_shape)

        def run():
            with torch.no_grad():
                grid = F.affine_grid(theta, size, align_corners=True)
                out = F.grid_sample(inp, grid, mode=mode, padding_mode="zeros", align_corners=True)
                if channels_last:
                    out = out[0].permute(1, 2, 3, 0).contiguous()
            return out
        return run

    cases = [
        ("resample_mni_to_1p5mm", torch_case(mni, scale, mni_out, "bilinear")),
        ("resample_mni_to_1p5mm_f64", torch_case(mni64, scale, mni_out, "bilinear")),
        ("resample_mni_to_1p5mm_nearest", torch_case(mni, scale, mni_out, "nearest")),
        ("resample_rigid_128", torch_case(vol128, rigid_inv, [128, 128, 128], "bilinear")),
        ("resample_rigid_128x4", torch_case(vol128x4, rigid_inv, [128, 128, 128], "bilinear", True)),
        ("reorient_mni_las", lambda: torch.flip(mni, dims=(0,)).contiguous()),
    ]
    try:
        import numpy as np
        from scipy.ndimage import affine_transform
    except Exception:  # scipy lives in the reference venv only
        return cases

    mni_np, mni64_np = mni.numpy(), mni64.numpy()
    vol128_np, vol128x4_np = vol128.numpy(), vol128x4.numpy()

    def scipy_case(x, vox_map, out_shape, order):
        m = np.array(vox_map, dtype=np.float64)

        def run():
            return affine_transform(x, m, output_shape=tuple(out_shape), order=order, mode="constant",
                                    cval=np.nan, prefilter=False)
        return run

    def scipy_channels(x, vox_map, out_shape):
        m = np.array(vox_map, dtype=np.float64)

        def run():
            return np.stack([affine_transform(x[..., c], m, output_shape=tuple(out_shape), order=1,
                                              mode="constant", cval=np.nan, prefilter=False)
                             for c in range(x.shape[3])], axis=-1)
        return run

    cases += [
        ("resample_mni_to_1p5mm.scipy", scipy_case(mni_np, scale, mni_out, 1)),
        ("resample_mni_to_1p5mm_f64.scipy", scipy_case(mni64_np, scale, mni_out, 1)),
        ("resample_mni_to_1p5mm_nearest.scipy", scipy_case(mni_np, scale, mni_out, 0)),
        ("resample_rigid_128.scipy", scipy_case(vol128_np, rigid_inv, [128, 128, 128], 1)),
        ("resample_rigid_128x4.scipy", scipy_channels(vol128x4_np, rigid_inv, [128, 128, 128])),
        ("reorient_mni_las.scipy", lambda: np.ascontiguousarray(mni_np[::-1])),
    ]
    return cases
