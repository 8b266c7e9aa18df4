"""PyTorch side of bench/bench_imaging_pet.cpp (see that file's header).

PyTorch has no Radon transform. The reference here is the fastest exact way to run voxnn's projector in
PyTorch: its system matrix, built once below (the same distance-driven weights as
include/voxnn/ops/radon.hpp, in NumPy), stored as a CSR sparse tensor, with a second CSR tensor for its
transpose; radon is A @ X and back_projection is A^T @ Y (torch.sparse.mm, float32). radon_fwdbwd is one
product with A and one with A^T (what autograd would run; PyTorch 1.13 does not differentiate CSR
products). Building the matrices is not timed. torch_cases(torch) -> [(voxnn benchmark name, zero-argument
callable)]; the caller sets the thread count.
"""

import math
import warnings

import numpy as np

BATCH, SIZE, ANGLES, BINS = 8, 128, 180, 185


def system_matrix(height, width, angles, bins, spacing=1.0):
    """(rows, cols, values) of the projector: row a * bins + b, column i * width + j.

    For each angle the image is cut into lines along the axis the rays cross most steeply (rows when
    |cos| >= |sin|); boundary k of the detector meets line l at position u_k = start_l + k * beta, in
    units where the line's pixel m covers [m, m + 1], and pixel m adds
    sign(beta) / spacing * (ramp(u_{b+1} - m) - ramp(u_b - m)) to bin b, ramp(t) = clip(t, 0, 1).
    """
    cy, cx = 0.5 * (height - 1), 0.5 * (width - 1)
    t0 = -0.5 * bins * spacing
    rows_out, cols_out, vals_out = [], [], []
    for a, theta in enumerate(angles):
        c, s = math.cos(theta), math.sin(theta)
        if abs(c) >= abs(s):
            alpha0, delta, beta = (t0 - cy * s) / c + cx + 0.5, s / c, spacing / c
            nlines, length = height, width
        else:
            alpha0, delta, beta = cy + 0.5 - (t0 + cx * c) / s, c / s, -spacing / s
            nlines, length = width, height
        scale = (1.0 if beta > 0 else -1.0) / spacing
        line = np.arange(nlines, dtype=np.float64)[:, None, None]
        m = np.arange(length, dtype=np.float64)[None, :, None]
        start = alpha0 + line * delta
        k_lo = np.floor(np.minimum((m - start) / beta, (m + 1 - start) / beta)) - 1
        taps = int(math.ceil(1 / abs(beta))) + 3  # bins a pixel can reach
        b = k_lo + np.arange(taps, dtype=np.float64)[None, None, :]
        u0, u1 = start + b * beta, start + (b + 1) * beta
        w = scale * (np.clip(u1 - m, 0, 1) - np.clip(u0 - m, 0, 1))
        lines_i = np.broadcast_to(line, w.shape).astype(np.int64)
        m_i = np.broadcast_to(m, w.shape).astype(np.int64)
        flat = lines_i * width + m_i if abs(c) >= abs(s) else m_i * width + lines_i
        keep = (w != 0) & (b >= 0) & (b < bins)
        rows_out.append((a * bins + b[keep]).astype(np.int64))
        cols_out.append(flat[keep])
        vals_out.append(w[keep])
    return np.concatenate(rows_out), np.concatenate(cols_out), np.concatenate(vals_out)


def csr(torch, rows, cols, vals, shape):
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    crow = np.zeros(shape[0] + 1, dtype=np.int64)
    np.add.at(crow, rows + 1, 1)
    crow = np.cumsum(crow)
    with warnings.catch_warnings():  # "sparse CSR support is in beta" (PyTorch 1.13)
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(cols.copy()),
                                       torch.from_numpy(vals.astype(np.float32)), size=shape)


def torch_cases(torch):
    angles = [math.pi * k / ANGLES for k in range(ANGLES)]
    rows, cols, vals = system_matrix(SIZE, SIZE, angles, BINS)
    A = csr(torch, rows, cols, vals, (ANGLES * BINS, SIZE * SIZE))
    At = csr(torch, cols, rows, vals, (SIZE * SIZE, ANGLES * BINS))
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(SIZE * SIZE, BATCH, generator=gen)  # columns are images
    y = torch.rand(ANGLES * BINS, BATCH, generator=gen)

    def fwd():
        with torch.no_grad():
            torch.sparse.mm(A, x)

    def bwd():
        with torch.no_grad():
            torch.sparse.mm(At, y)

    def fwdbwd():
        with torch.no_grad():
            torch.sparse.mm(A, x)
            torch.sparse.mm(At, y)

    return [
        ("radon_fwd_n8_128_a180_b185", fwd),
        ("back_projection_n8_128_a180_b185", bwd),
        ("radon_fwdbwd_n8_128_a180_b185", fwdbwd),
    ]
