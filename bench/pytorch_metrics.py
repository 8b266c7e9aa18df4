"""Reference side of bench/bench_metrics.cpp: the same shapes (see that file's header) with MONAI's
compute_hausdorff_distance(percentile=95, spacing=(1.2, 0.9, 0.9)) on the same two blobs, scikit-image's
structural_similarity per slice with data_range = gt.max() (fastmri.evaluate.ssim's loop, written out so that
fastmri's evaluate module and its runstats import are not needed) and fastmri.losses.SSIMLoss forward +
backward. Each reference is left out when it does not import (monai, skimage and fastmri are in the
reference venv, /work/venv-ref). torch_cases(torch) -> [(voxnn benchmark name, zero-argument callable)];
the caller sets the thread count (scikit-image and scipy are single-threaded)."""


def _blobs(torch, which):
    ellipsoids = [[((60, 64, 62), (30, 26, 34)), ((80, 50, 70), (18, 22, 16))],
                  [((63, 66, 60), (28, 27, 31)), ((40, 90, 50), (14, 16, 12))]][which]
    z, y, x = torch.meshgrid(*[torch.arange(128, dtype=torch.float64)] * 3, indexing="ij")
    inside = torch.zeros(128, 128, 128, dtype=torch.bool)
    for c, a in ellipsoids:
        inside |= ((z - c[0]) / a[0]) ** 2 + ((y - c[1]) / a[1]) ** 2 + ((x - c[2]) / a[2]) ** 2 <= 1
    return torch.stack([~inside, inside]).float()[None]


def torch_cases(torch):
    cases = []
    try:
        import warnings
        from monai.metrics import compute_hausdorff_distance

        warnings.filterwarnings("ignore")
        p, t = _blobs(torch, 0), _blobs(torch, 1)
        cases.append(("hd95_128cubed",
                      lambda: compute_hausdorff_distance(p, t, percentile=95, spacing=[1.2, 0.9, 0.9])))
    except ImportError:
        pass
    gen = torch.Generator().manual_seed(1)
    try:
        from skimage.metrics import structural_similarity

        gt = torch.rand(16, 320, 320, generator=gen)
        pred = (gt + 0.1 * torch.randn(16, 320, 320, generator=gen))
        gt_np, pred_np = gt.numpy(), pred.numpy()

        def ssim():
            maxval = gt_np.max()
            return sum(structural_similarity(gt_np[i], pred_np[i], data_range=maxval) for i in range(16)) / 16

        cases.append(("ssim_16x320x320", ssim))
    except ImportError:
        pass
    try:
        from fastmri.losses import SSIMLoss

        loss = SSIMLoss()
        x = torch.rand(8, 1, 320, 320, generator=gen).requires_grad_(True)
        y = torch.rand(8, 1, 320, 320, generator=gen)
        data_range = torch.ones(8)

        def fwdbwd():
            loss(x, y, data_range).backward()
            x.grad = None

        cases.append(("ssim_loss_fwdbwd_8x1x320x320", fwdbwd))
    except ImportError:
        pass
    return cases
