"""PyTorch side of bench/bench_imaging_grid.cpp: the same shapes, grids and calls (see that file's
header). torch_cases(torch) -> [(voxnn benchmark name, zero-argument callable)]; the caller sets
the thread count."""

import math


def displacement_grid3d(torch, n):
    # identity + smooth displacement in voxels, normalised for align_corners=True (same formula as C++)
    r = torch.arange(n, dtype=torch.float64)
    z, y, x = torch.meshgrid(r, r, r, indexing="ij")
    fx, fy, fz = x / n, y / n, z / n
    tp = 2 * math.pi
    dx = 3.0 * torch.sin(tp * 1.3 * fz + 0.4) * torch.cos(tp * 0.7 * fy)
    dy = 2.5 * torch.sin(tp * fx + 1.1) * torch.cos(tp * 0.9 * fz)
    dz = 3.0 * torch.sin(tp * 1.1 * fy + 0.3) * torch.cos(tp * 0.6 * fx)
    g = torch.stack([2 * (x + dx) / (n - 1) - 1, 2 * (y + dy) / (n - 1) - 1, 2 * (z + dz) / (n - 1) - 1], dim=-1)
    return g.unsqueeze(0).float().contiguous()


def displacement_grid2d(torch, batch, n):
    r = torch.arange(n, dtype=torch.float64)
    y, x = torch.meshgrid(r, r, indexing="ij")
    fx, fy = x / n, y / n
    tp = 2 * math.pi
    out = []
    for b in range(batch):
        ph = 0.5 * b
        dx = 3.0 * torch.sin(tp * 1.3 * fy + 0.4 + ph) * torch.cos(tp * 0.7 * fx)
        dy = 2.5 * torch.sin(tp * fx + 1.1) * torch.cos(tp * 0.9 * fy + ph)
        out.append(torch.stack([2 * (x + dx) / (n - 1) - 1, 2 * (y + dy) / (n - 1) - 1], dim=-1))
    return torch.stack(out).float().contiguous()


def torch_cases(torch):
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(0)
    n = 128
    opts = dict(mode="bilinear", padding_mode="zeros", align_corners=True)
    g3 = displacement_grid3d(torch, n)
    cases = []

    for c in (1, 3):
        x = torch.randn(1, c, n, n, n, generator=gen)

        def fwd(x=x):
            with torch.no_grad():
                F.grid_sample(x, g3, **opts)

        cases.append((f"grid_sample3d_fwd_c{c}_128", fwd))

    def fwdbwd3(c, input_grad):
        x = torch.randn(1, c, n, n, n, generator=gen).requires_grad_(input_grad)
        g = g3.clone().requires_grad_()
        gy = torch.randn(1, c, n, n, n, generator=gen)

        def run():
            F.grid_sample(x, g, **opts).backward(gy)
            x.grad = None
            g.grad = None

        return run

    cases.append(("grid_sample3d_fwdbwd_c1_128", fwdbwd3(1, True)))
    cases.append(("grid_sample3d_fwdbwd_c3_128", fwdbwd3(3, True)))
    cases.append(("grid_sample3d_fwdbwd_gridonly_c1_128", fwdbwd3(1, False)))

    x2 = torch.randn(4, 3, 256, 256, generator=gen)
    g2 = displacement_grid2d(torch, 4, 256)

    def fwd2():
        with torch.no_grad():
            F.grid_sample(x2, g2, **opts)

    x2g = x2.clone().requires_grad_()
    g2g = g2.clone().requires_grad_()
    gy2 = torch.randn(4, 3, 256, 256, generator=gen)

    def fwdbwd2():
        F.grid_sample(x2g, g2g, **opts).backward(gy2)
        x2g.grad = None
        g2g.grad = None

    cases.append(("grid_sample2d_fwd_n4_c3_256", fwd2))
    cases.append(("grid_sample2d_fwdbwd_n4_c3_256", fwdbwd2))

    theta = torch.zeros(1, 3, 4)
    for i in range(3):
        theta[0, i, i] = 1.0
    theta[0, 0, 1] = 0.1
    theta[0, 2, 3] = 0.05
    theta.requires_grad_()
    gya = torch.randn(1, n, n, n, 3, generator=gen)

    def affine():
        F.affine_grid(theta, [1, 1, n, n, n], align_corners=False).backward(gya)
        theta.grad = None

    cases.append(("affine_grid3d_fwdbwd_128", affine))
    return cases
