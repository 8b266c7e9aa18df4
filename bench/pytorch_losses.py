"""PyTorch side of bench/bench_losses.cpp: the same shapes and calls. torch_cases(torch) -> [(voxnn benchmark
name, zero-argument callable)]; the caller sets the thread count.

  <name>              the reference formula in plain torch: voxelmorph's NCC (five conv3d with a 9x9x9 ones
                      kernel, padding 4), Dice (softmax, one-hot target, MONAI's smoothing) + cross-entropy
  <name>.voxelmorph   voxelmorph's own NCC class (voxelmorph 0.2 from the reference venv, its "cuda" kernel
                      kept on the CPU), when importable
  <name>.monai        MONAI's DiceCELoss(softmax=True, to_onehot_y=True), when importable"""

import contextlib
import glob
import os
import sys


def _add_reference_venv():
    for site in glob.glob("/work/venv-ref/lib/python3*/site-packages"):
        if site not in sys.path:
            sys.path.append(site)


def _import_references():
    _add_reference_venv()
    monai_losses = vxm_losses = None
    try:
        import monai.losses as monai_losses
    except Exception:  # noqa: BLE001 - optional reference
        monai_losses = None
    try:
        import inspect
        os.environ.setdefault("VXM_BACKEND", "pytorch")
        if not hasattr(inspect, "getargspec"):
            inspect.getargspec = lambda f: tuple(inspect.getfullargspec(f)[:4])
        import voxelmorph.torch.losses as vxm_losses
    except Exception:  # noqa: BLE001 - optional reference
        vxm_losses = None
    return monai_losses, vxm_losses


def torch_cases(torch):
    import torch.nn.functional as F

    monai_losses, vxm_losses = _import_references()
    gen = torch.Generator().manual_seed(0)
    shape = (1, 1, 96, 96, 96)
    y_true = torch.rand(*shape, generator=gen)
    y_pred = (0.7 * y_true + 0.3 * torch.rand(*shape, generator=gen)).requires_grad_(True)
    logits = (4 * torch.rand(1, 4, 96, 96, 96, generator=gen)).requires_grad_(True)
    labels = torch.randint(0, 4, (1, 1, 96, 96, 96), generator=gen)

    def ncc(i, j):
        k = torch.ones(1, 1, 9, 9, 9)
        si, sj = F.conv3d(i, k, padding=4), F.conv3d(j, k, padding=4)
        sii, sjj, sij = F.conv3d(i * i, k, padding=4), F.conv3d(j * j, k, padding=4), F.conv3d(i * j, k, padding=4)
        ui, uj = si / 729, sj / 729
        cross = sij - uj * si - ui * sj + ui * uj * 729
        iv = sii - 2 * ui * si + ui * ui * 729
        jv = sjj - 2 * uj * sj + uj * uj * 729
        return -torch.mean(cross * cross / (iv * jv + 1e-5))

    def dice_ce(x, t):
        p = torch.softmax(x, 1)
        onehot = torch.zeros_like(x).scatter_(1, t, 1.0)
        inter = (p * onehot).sum((2, 3, 4))
        dice = 1 - (2 * inter + 1e-5) / (p.sum((2, 3, 4)) + onehot.sum((2, 3, 4)) + 1e-5)
        return dice.mean() + F.cross_entropy(x, t[:, 0])

    @contextlib.contextmanager
    def cuda_on_cpu():
        old = torch.Tensor.to

        def to(self, *args, **kwargs):
            if args and isinstance(args[0], str) and args[0].startswith("cuda"):
                return self
            return old(self, *args, **kwargs)

        torch.Tensor.to = to
        try:
            yield
        finally:
            torch.Tensor.to = old

    def fwdbwd(f, x):
        def run():
            f().backward()
            x.grad = None
        return run

    def fwd(f):
        def run():
            with torch.no_grad():
                f()
        return run

    cases = [
        ("ncc_loss_win9_96_fwdbwd", fwdbwd(lambda: ncc(y_true, y_pred), y_pred)),
        ("ncc_loss_win9_96_fwd", fwd(lambda: ncc(y_true, y_pred))),
        ("dice_ce_4x96_fwdbwd", fwdbwd(lambda: dice_ce(logits, labels), logits)),
        ("dice_ce_4x96_fwd", fwd(lambda: dice_ce(logits, labels))),
    ]
    if vxm_losses is not None:
        vxm_ncc = vxm_losses.NCC()

        def vxm_call():
            with cuda_on_cpu():
                return vxm_ncc.loss(y_true, y_pred)

        cases.append(("ncc_loss_win9_96_fwdbwd.voxelmorph", fwdbwd(vxm_call, y_pred)))
        cases.append(("ncc_loss_win9_96_fwd.voxelmorph", fwd(vxm_call)))
    else:
        print("pytorch_losses: voxelmorph is not importable; no .voxelmorph cases")
    if monai_losses is not None:
        dice_ce_monai = monai_losses.DiceCELoss(softmax=True, to_onehot_y=True)
        cases.append(("dice_ce_4x96_fwdbwd.monai", fwdbwd(lambda: dice_ce_monai(logits, labels), logits)))
        cases.append(("dice_ce_4x96_fwd.monai", fwd(lambda: dice_ce_monai(logits, labels))))
    else:
        print("pytorch_losses: monai is not importable; no .monai cases")
    return cases
