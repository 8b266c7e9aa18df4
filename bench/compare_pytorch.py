#!/usr/bin/env python3
"""Runs voxnn's Google Benchmark binaries and the same shapes in PyTorch, in one run, and prints one table.

    /usr/bin/python3 bench/compare_pytorch.py [--build-dir build/bench] [--repetitions 5] [--only ops,unet]

Protocol, for both sides: warm-up (0.3 s of untimed calls), then --repetitions repetitions (at least 5), each
timing a loop of enough calls to last --min-time seconds, the repetitions of all benchmarks of a binary (of a
group, for PyTorch) in random interleaved order; the reported figure is the median over the repetitions of
the wall-clock time per call. voxnn runs on voxnn::num_threads() OpenMP threads (printed),
PyTorch on torch.set_num_threads(--threads). Rates: GB/s = bytes read + written / 1e9 / s;
GFLOP/s = 2 n^3 / 1e9 / s. Targets (from the issue):
  * elementwise add and addcmul on 64 Mi floats: >= 70% of the copy bandwidth measured by the same binary
    (the fastest of its copies: memcpy on 1 thread, memcpy on all threads, a non-temporal-store copy on all
    threads), for the fresh-output and the in-place/out= forms;
  * matmul 2048^3: within 10% of the fastest raw GEMM the binary links (Eigen, and cblas_sgemm when built
    with OpenBLAS);
  * autograd overhead per recorded op < 2 us (chain of 100 ops on 1-element tensors);
  * conv3d k3 p1 forward >= 60% of the FMA peak measured by voxnn_bench_ops (shapes with Cin >= 16), and
    >= 2x PyTorch where PyTorch runs its slow vol2col path (slow_conv3d), >= 0.9x where it runs oneDNN;
    conv3d forward+backward >= 1.5x PyTorch; conv_transpose3d k2 s2 >= 2x PyTorch, forward and
    forward+backward; BatchNorm3d / InstanceNorm3d training forward+backward >= 3x PyTorch;
  * 3-D U-Net training step (voxnn_bench_unet) <= 0.5x PyTorch's time, peak RSS <= PyTorch's (each side
    measured in a process that runs only the U-Net: PyTorch's in a fresh subprocess of this script);
  * imaging operators (IMAGING_SPEEDUP): GRU T=128 B=8 I=256 H=128 forward+backward >= 1x PyTorch,
    grid_sample 3D trilinear 128^3 forward+backward >= 3x, FFT (1,8,320,320) over the last two dims and
    128^3 >= 0.5x.
Groups (--only): core (voxnn_bench_core), autograd (voxnn_bench_autograd), ops (voxnn_bench_ops),
unet (voxnn_bench_unet), imaging (every voxnn_bench_imaging_<x> with its PyTorch side in
bench/pytorch_imaging_<x>.py), data (voxnn_bench_data_<x> and voxnn_bench_io_<x> against bench/pytorch_data_<x>.py
and pytorch_io_<x>.py: PyTorch, and MONAI, scipy or nibabel when importable, e.g. under the reference venv's
interpreter), models (voxnn_bench_losses and voxnn_bench_metrics against bench/pytorch_losses.py and
pytorch_metrics.py: voxelmorph's NCC, MONAI's DiceCELoss and Hausdorff distance, fastMRI's SSIM loss,
scikit-image's SSIM, when importable); all by default. PyTorch's conv3d path per shape is read from its profiler and
printed; torch.mkldnn_convolution (oneDNN forced) is timed as a reference column.
A target that is not met is printed as MISS, and listed again under the table.
Needs PyTorch; when it cannot be imported the script re-executes itself with /usr/bin/python3 (Debian's
python3-torch).
"""
import argparse
import datetime
import json
import importlib
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time

SYSTEM_PYTHON = "/usr/bin/python3"


def import_torch():
    try:
        import torch  # noqa: F401
        return torch
    except ImportError:
        here = os.path.realpath(sys.executable)
        if os.path.exists(SYSTEM_PYTHON) and here != os.path.realpath(SYSTEM_PYTHON) and \
                not os.environ.get("VOXNN_BENCH_REEXEC"):
            os.environ["VOXNN_BENCH_REEXEC"] = "1"
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
        sys.exit("compare_pytorch.py: PyTorch is not importable (tried %s and %s)" % (sys.executable, SYSTEM_PYTHON))


ELEMS = 64 << 20       # must match bench_core.cpp
GEMM_N = 2048
CHAIN_OPS = 100        # must match bench_autograd.cpp
BW_FRACTION = 0.70
GEMM_FRACTION = 0.90
AUTOGRAD_US = 2.0
# must match bench_ops.cpp: (N, Cin, Cout, size) of conv3d k3 p1; the first four run PyTorch's slow path
CONV_SHAPES = [(1, 1, 16, 64), (1, 16, 32, 32), (1, 32, 64, 16), (1, 64, 64, 16), (1, 32, 32, 64), (2, 32, 32, 32)]
UP_IN, UP_OUT, UP_SIZE = 32, 16, 32          # conv_transpose3d k2 s2, 32^3 -> 64^3
NORM_SHAPE = (2, 32, 64, 64, 64)
POOL_SHAPE = (1, 32, 64, 64, 64)
UPSAMPLE_SHAPE = (1, 32, 32, 32, 32)
UNET_SIZE, UNET_CLASSES = 64, 2               # must match bench_unet.cpp
CONV_PEAK_FRACTION = 0.60
CONV_SLOW_SPEEDUP, CONV_ONEDNN_SPEEDUP, CONV_FWDBWD_SPEEDUP = 2.0, 0.9, 1.5
CONVT_SPEEDUP, NORM_SPEEDUP = 2.0, 3.0
UNET_TIME_FRACTION = 0.5
# imaging group: benchmark name -> the minimum speed ratio vs PyTorch, and a readable label.
IMAGING_SPEEDUP = {
    "grid_sample3d_fwdbwd_c1_128": 3.0, "grid_sample3d_fwdbwd_c3_128": 3.0,
    "fft2_320x320x8_fwd": 0.5, "fft3_128_fwd": 0.5,
    "gru_fwdbwd_T128_B8_I256_H128": 1.0,
}
IMAGING_LABELS = {
    "grid_sample3d_fwdbwd_c1_128": "grid_sample 3D trilinear fwd+bwd (input and grid), 1x1x128^3",
    "grid_sample3d_fwdbwd_c3_128": "grid_sample 3D trilinear fwd+bwd (input and grid), 1x3x128^3",
    "fft2_320x320x8_fwd": "FFT over the last two dims, (1, 8, 320, 320) complex64",
    "fft3_128_fwd": "3-D FFT, 128^3 complex64",
    "gru_fwdbwd_T128_B8_I256_H128": "GRU fwd+bwd T=128 B=8 I=256 H=128",
}
GROUPS = ("core", "autograd", "ops", "unet", "imaging", "data", "models")


def conv_tag(shape):
    n, ci, co, sz = shape
    return "n%d_c%dto%d_s%d" % (n, ci, co, sz)


def conv_flops(shape):
    n, ci, co, sz = shape
    return 2.0 * n * co * ci * 27 * sz ** 3


# ---- voxnn side ------------------------------------------------------------------------------------------
# Groups made of pairs: voxnn_bench_<stem> against bench/pytorch_<stem>.py, stems by prefix.
PAIRED_GROUPS = {"imaging": ("imaging_",), "data": ("data_", "io_"), "models": ("losses", "metrics")}


def paired_modules(group):
    """{binary stem: module} for each bench/pytorch_<stem>.py of the group: its torch_cases(torch) returns
    [(benchmark name, callable)] with the names voxnn_bench_<stem> reports; a name with a suffix
    (".scipy", ".monai", ".nibabel") times another reference for the same voxnn benchmark."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    stems = sorted(f[len("pytorch_"):-len(".py")] for f in os.listdir(here)
                   if f.startswith("pytorch_") and f.endswith(".py")
                   and f[len("pytorch_"):].startswith(PAIRED_GROUPS[group]))
    return {stem: importlib.import_module("pytorch_" + stem) for stem in stems}


def run_binary(path, repetitions, min_time):
    cmd = [path, "--benchmark_format=json", "--benchmark_repetitions=%d" % repetitions,
           "--benchmark_report_aggregates_only=true", "--benchmark_enable_random_interleaving=true",
           "--benchmark_min_time=%g" % min_time]
    print("running:", " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    data = json.loads(out)
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    results = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "aggregate":
            continue
        name = b["run_name"].split("/")[0]
        entry = results.setdefault(name, {})
        if b["aggregate_name"] == "median":
            entry["seconds"] = b["real_time"] * scale[b["time_unit"]]
            entry["counters"] = {k: v for k, v in b.items() if isinstance(v, float)}
        elif b["aggregate_name"] == "cv":
            entry["cv"] = b["real_time"]
    return data["context"], results


# ---- PyTorch side ----------------------------------------------------------------------------------------
def time_group(cases, repetitions, min_time, warmup=0.3):
    """{name: (median seconds per call, coefficient of variation)} for [(name, fn)], measured as the C++
    side is: each case warmed up, then `repetitions` timed loops of >= min_time s per case, the
    repetitions of all cases in random interleaved order."""
    loops = {}
    for name, fn in cases:
        print("torch: warm-up", name, file=sys.stderr, flush=True)
        start, calls = time.perf_counter(), 0
        while True:  # at least one call, at least `warmup` seconds
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= warmup:
                break
        loops[name] = max(1, int(min_time / (elapsed / calls) + 0.5))
    order = [c for c in cases for _ in range(repetitions)]
    random.Random(0).shuffle(order)
    samples = {name: [] for name, _ in cases}
    for name, fn in order:
        fn()  # one untimed call: this case may follow a different one
        n = loops[name]
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples[name].append((time.perf_counter() - t0) / n)
    return {name: (statistics.median(v), statistics.pstdev(v) / statistics.mean(v)) for name, v in samples.items()}


def torch_elementwise(torch, g, repetitions, min_time):
    a = torch.rand(ELEMS, generator=g)
    b = torch.rand(ELEMS, generator=g)
    c = torch.rand(ELEMS, generator=g)
    out = torch.zeros(ELEMS)
    return time_group([
        ("copy", lambda: out.copy_(a)),
        ("add_fresh", lambda: torch.add(a, b)),
        ("add_out", lambda: torch.add(a, b, out=out)),
        ("add_inplace", lambda: out.add_(b)),
        ("addcmul_fresh", lambda: torch.addcmul(c, a, b, value=0.5)),
        ("addcmul_inplace", lambda: out.addcmul_(a, b, value=0.5)),
    ], repetitions, min_time)  # the 1 GiB of operands is freed on return


def torch_matmul(torch, g, repetitions, min_time):
    A = torch.randn(GEMM_N, GEMM_N, generator=g)
    B = torch.randn(GEMM_N, GEMM_N, generator=g)
    return time_group([("matmul", lambda: torch.matmul(A, B))], repetitions, min_time)


def torch_core(torch, repetitions, min_time):
    g = torch.Generator().manual_seed(0)
    res = torch_elementwise(torch, g, repetitions, min_time)
    res.update(torch_matmul(torch, g, repetitions, min_time))
    return res


def torch_autograd(torch, repetitions, min_time):
    x = torch.ones(1, requires_grad=True)

    def chain():
        y = x
        for _ in range(CHAIN_OPS // 2):
            y = y * x + x
        return y

    def nograd():
        with torch.no_grad():
            chain()

    def fwd_bwd():
        chain().backward()
        x.grad = None

    return time_group([("ag_nograd", nograd), ("ag_record", chain), ("ag_fwd_bwd", fwd_bwd)], repetitions, min_time)


def conv3d_path(torch, x, w, b):
    """The ATen kernel F.conv3d dispatches to for these operands (from the profiler), e.g. 'slow_conv3d' or
    'mkldnn_convolution'; None when the profiler does not tell."""
    F = torch.nn.functional
    try:
        with torch.no_grad(), torch.autograd.profiler.profile() as prof:
            F.conv3d(x, w, b, padding=1)
        names = {e.name for e in prof.function_events}
    except Exception:  # profiler unavailable: fall back to the assignment
        return None
    for kernel in ("slow_conv3d", "mkldnn_convolution", "slow_conv_dilated3d", "_nnpack_spatial_convolution"):
        if "aten::" + kernel in names:
            return kernel
    return None


def torch_ops(torch, repetitions, min_time):
    """The voxnn_bench_ops cases in PyTorch. Keys: the voxnn benchmark name (conv3d_fwd_<tag>, ...), and
    onednn_<name> for torch.mkldnn_convolution; also returns {tag: conv3d kernel path}."""
    F = torch.nn.functional
    g = torch.Generator().manual_seed(0)
    rnd = lambda *shape: torch.randn(*shape, generator=g)
    onednn = getattr(torch, "mkldnn_convolution", None) if torch.backends.mkldnn.is_available() else None
    one = [1, 1, 1]
    res, paths = {}, {}
    fwd, fwdbwd = [], []
    for shape in CONV_SHAPES:
        n, ci, co, sz = shape
        tag = conv_tag(shape)
        x, w, b, gy = rnd(n, ci, sz, sz, sz), rnd(co, ci, 3, 3, 3), rnd(co), rnd(n, co, sz, sz, sz)
        xg, wg, bg = (t.clone().requires_grad_() for t in (x, w, b))
        paths[tag] = conv3d_path(torch, x, w, b)

        def f(x=x, w=w, b=b):
            with torch.no_grad():
                F.conv3d(x, w, b, padding=1)

        def fb(xg=xg, wg=wg, bg=bg, gy=gy):
            F.conv3d(xg, wg, bg, padding=1).backward(gy)
            xg.grad = wg.grad = bg.grad = None

        fwd.append(("conv3d_fwd_" + tag, f))
        fwdbwd.append(("conv3d_fwdbwd_" + tag, fb))
        if onednn is not None:
            def of(x=x, w=w, b=b):
                with torch.no_grad():
                    onednn(x, w, b, one, one, one, 1)

            def ofb(xg=xg, wg=wg, bg=bg, gy=gy):
                onednn(xg, wg, bg, one, one, one, 1).backward(gy)
                xg.grad = wg.grad = bg.grad = None

            fwd.append(("onednn_conv3d_fwd_" + tag, of))
            fwdbwd.append(("onednn_conv3d_fwdbwd_" + tag, ofb))
    res.update(time_group(fwd, repetitions, min_time))
    res.update(time_group(fwdbwd, repetitions, min_time))
    del fwd, fwdbwd

    # conv_transpose3d k2 s2, normalisation in training, max pooling, trilinear upsampling
    x, w, b = rnd(1, UP_IN, UP_SIZE, UP_SIZE, UP_SIZE), rnd(UP_IN, UP_OUT, 2, 2, 2), rnd(UP_OUT)
    gy = rnd(1, UP_OUT, 2 * UP_SIZE, 2 * UP_SIZE, 2 * UP_SIZE)
    xg, wg, bg = (t.clone().requires_grad_() for t in (x, w, b))

    def ct_f():
        with torch.no_grad():
            F.conv_transpose3d(x, w, b, stride=2)

    def ct_fb():
        F.conv_transpose3d(xg, wg, bg, stride=2).backward(gy)
        xg.grad = wg.grad = bg.grad = None

    def norm_case(module):
        module.train()
        xn = rnd(*NORM_SHAPE).requires_grad_()
        gn = rnd(*NORM_SHAPE)

        def run():
            module(xn).backward(gn)
            xn.grad = None
            module.zero_grad(set_to_none=True)
        return run

    xp = rnd(*POOL_SHAPE)
    xpg = xp.clone().requires_grad_()
    gp = rnd(POOL_SHAPE[0], POOL_SHAPE[1], *(d // 2 for d in POOL_SHAPE[2:]))

    def pool_f():
        with torch.no_grad():
            F.max_pool3d(xp, 2, 2)

    def pool_fb():
        F.max_pool3d(xpg, 2, 2).backward(gp)
        xpg.grad = None

    xu = rnd(*UPSAMPLE_SHAPE)
    xug = xu.clone().requires_grad_()
    gu = rnd(UPSAMPLE_SHAPE[0], UPSAMPLE_SHAPE[1], *(2 * d for d in UPSAMPLE_SHAPE[2:]))

    def up_f():
        with torch.no_grad():
            F.interpolate(xu, scale_factor=2, mode="trilinear", align_corners=False)

    def up_fb():
        F.interpolate(xug, scale_factor=2, mode="trilinear", align_corners=False).backward(gu)
        xug.grad = None

    res.update(time_group([
        ("conv_transpose3d_fwd", ct_f), ("conv_transpose3d_fwdbwd", ct_fb),
        ("batch_norm3d_train_fwdbwd", norm_case(torch.nn.BatchNorm3d(NORM_SHAPE[1]))),
        ("instance_norm3d_train_fwdbwd", norm_case(torch.nn.InstanceNorm3d(NORM_SHAPE[1], affine=True))),
        ("max_pool3d_fwd", pool_f), ("max_pool3d_fwdbwd", pool_fb),
        ("upsample_trilinear_fwd", up_f), ("upsample_trilinear_fwdbwd", up_fb),
    ], repetitions, min_time))
    return res, paths


# ---- U-Net training step (PyTorch side; voxnn's is bench/bench_unet.cpp + bench/unet_bench_model.hpp) -----
def unet_model(torch):
    """The network of bench/unet_bench_model.hpp, with the same module names and channel counts."""
    nn, F = torch.nn, torch.nn.functional

    class UNetBlock(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv1 = nn.Conv3d(cin, cout, 3, padding=1)
            self.bn1 = nn.BatchNorm3d(cout)
            self.conv2 = nn.Conv3d(cout, cout, 3, padding=1)
            self.bn2 = nn.BatchNorm3d(cout)

        def forward(self, x):
            return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))

    class UNet3d(nn.Module):
        def __init__(self, in_channels=1, classes=UNET_CLASSES):
            super().__init__()
            self.enc1 = UNetBlock(in_channels, 16)
            self.enc2 = UNetBlock(16, 32)
            self.enc3 = UNetBlock(32, 64)
            self.bottom = UNetBlock(64, 128)
            self.up3 = nn.ConvTranspose3d(128, 64, 2, stride=2)
            self.dec3 = UNetBlock(128, 64)
            self.up2 = nn.ConvTranspose3d(64, 32, 2, stride=2)
            self.dec2 = UNetBlock(64, 32)
            self.up1 = nn.ConvTranspose3d(32, 16, 2, stride=2)
            self.dec1 = UNetBlock(32, 16)
            self.head = nn.Conv3d(16, classes, 1)

        def forward(self, x):
            e1 = self.enc1(x)
            e2 = self.enc2(F.max_pool3d(e1, 2, 2))
            e3 = self.enc3(F.max_pool3d(e2, 2, 2))
            b = self.bottom(F.max_pool3d(e3, 2, 2))
            d3 = self.dec3(torch.cat([self.up3(b), e3], 1))
            d2 = self.dec2(torch.cat([self.up2(d3), e2], 1))
            d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
            return self.head(d1)

    return UNet3d()


def ru_maxrss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def peak_rss_mib():
    """Peak RSS of this process's address space (VmHWM), as voxnn_bench_unet measures it. Not ru_maxrss
    alone: on Linux it survives fork + exec, so the worker would report this script's own RSS."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return ru_maxrss_mib()


def unet_worker(args):
    """Runs in a fresh process (--unet-worker): only the U-Net steps, so its peak RSS is comparable with
    voxnn_bench_unet's. Prints one JSON line."""
    torch = import_torch()
    torch.set_num_threads(args.threads)
    baseline = peak_rss_mib()  # the interpreter and libtorch, before any tensor
    F = torch.nn.functional
    torch.manual_seed(0)
    net = unet_model(torch)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    s = UNET_SIZE
    x = torch.randn(1, 1, s, s, s)
    r = torch.arange(s) - s // 2
    labels = ((r.view(-1, 1, 1) ** 2 + r.view(1, -1, 1) ** 2 + r.view(1, 1, -1) ** 2) < 20 * 20).long().unsqueeze(0)
    last = []

    def step():
        opt.zero_grad(set_to_none=True)  # as voxnn's zero_grad (and PyTorch >= 2.0's default)
        loss = F.cross_entropy(net(x), labels)
        loss.backward()
        opt.step()
        last.append(loss.item())

    res = time_group([("unet_train_step", step)], args.repetitions, args.min_time)
    sec, cv = res["unet_train_step"]
    print(json.dumps({"seconds": sec, "cv": cv, "peak_rss_mib": peak_rss_mib(), "ru_maxrss_mib": ru_maxrss_mib(),
                      "baseline_rss_mib": baseline,
                      "steps": len(last), "last_loss": last[-1],
                      "parameters": sum(p.numel() for p in net.parameters())}))
    return 0


def torch_unet(args):
    cmd = [sys.executable, os.path.abspath(__file__), "--unet-worker", "--repetitions", str(args.repetitions),
           "--min-time", str(args.min_time), "--threads", str(args.threads)]
    print("running:", " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def torch_blas(torch):
    """BLAS_INFO from the build config and the BLAS libraries actually mapped into this process."""
    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    info = m.group(1) if m else "?"
    mapped = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "blas" in os.path.basename(path).lower() or "mkl" in os.path.basename(path).lower():
                    mapped.add(os.path.realpath(path))
    except OSError:
        pass
    return info, sorted(mapped)


def cpu_snapshot():
    """(busy CPU seconds of the whole machine, CPU seconds used by this process and its children)."""
    import resource
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
        tick = os.sysconf("SC_CLK_TCK")
        busy = (sum(fields) - fields[3] - fields[4]) / tick
    except (OSError, ValueError):
        busy = float("nan")
    own = sum(getattr(resource.getrusage(who), k) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for k in ("ru_utime", "ru_stime"))
    return busy, own


# ---- table -----------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build/bench", help="folder with the voxnn_bench_* binaries")
    ap.add_argument("--core-bin", help="path of the core benchmark binary (default BUILD_DIR/voxnn_bench_core)")
    ap.add_argument("--autograd-bin", help="path of the autograd binary (default BUILD_DIR/voxnn_bench_autograd)")
    ap.add_argument("--ops-bin", help="path of the operator binary (default BUILD_DIR/voxnn_bench_ops)")
    ap.add_argument("--unet-bin", help="path of the U-Net binary (default BUILD_DIR/voxnn_bench_unet)")
    ap.add_argument("--only", default=",".join(GROUPS),
                    help="comma-separated groups to run, of %s (default: all)" % ", ".join(GROUPS))
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per timed repetition")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--json", help="also write all raw figures to this file")
    ap.add_argument("--unet-worker", action="store_true", help=argparse.SUPPRESS)  # the PyTorch U-Net subprocess
    args = ap.parse_args()
    if args.repetitions < 5:
        ap.error("the protocol needs at least 5 repetitions")
    if args.unet_worker:
        return unet_worker(args)
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        ap.error("unknown group(s) %s; choose from %s" % (", ".join(unknown), ", ".join(GROUPS)))

    torch = import_torch()
    torch.set_num_threads(args.threads)
    def find_bin(name):  # bench/bench_<name>.cpp builds as voxnn_bench_<name> (or, unstripped, voxnn_bench_bench_<name>)
        for cand in ("voxnn_bench_" + name, "voxnn_bench_bench_" + name):
            if os.path.exists(os.path.join(args.build_dir, cand)):
                return os.path.join(args.build_dir, cand)
        return os.path.join(args.build_dir, "voxnn_bench_" + name)

    bins = {"core": args.core_bin or find_bin("core"), "autograd": args.autograd_bin or find_bin("autograd"),
            "ops": args.ops_bin or find_bin("ops"), "unet": args.unet_bin or find_bin("unet")}
    paired = {g: paired_modules(g) for g in PAIRED_GROUPS if g in groups}
    for g, modules in paired.items():
        bins[g] = [find_bin(stem) for stem in modules]
        for path in bins[g]:
            if not os.path.exists(path):
                sys.exit("compare_pytorch.py: %s not found; build it (cmake --build build --target %s) or pass "
                         "--build-dir" % (path, os.path.basename(path)))
    for g in (g for g in groups if g not in PAIRED_GROUPS):
        # the autograd binary stays optional when it is not asked for explicitly, as before
        if not os.path.exists(bins[g]) and (g != "autograd" or args.only != ",".join(GROUPS)):
            sys.exit("compare_pytorch.py: %s not found; build it (cmake --build build --target %s) or pass "
                     "--build-dir / --%s-bin" % (bins[g], os.path.basename(bins[g]), g))

    load_before = os.getloadavg()
    snap0, wall0 = cpu_snapshot(), time.time()
    ctxs, voxs = {}, {}
    for g in (g for g in groups if g not in PAIRED_GROUPS):
        if os.path.exists(bins[g]):
            ctxs[g], voxs[g] = run_binary(bins[g], args.repetitions, args.min_time)
    vpaired = {g: {} for g in paired}
    for g in paired:
        for path in bins[g]:
            ctxs[g], results = run_binary(path, args.repetitions, args.min_time)
            vpaired[g].update(results)
    tor, paths, tunet = {}, {}, None
    if "core" in groups:
        tor.update(torch_core(torch, args.repetitions, args.min_time))
    if "autograd" in groups:
        tor.update(torch_autograd(torch, args.repetitions, args.min_time))
    if "ops" in groups:
        ops_res, paths = torch_ops(torch, args.repetitions, args.min_time)
        tor.update(ops_res)
    if "unet" in groups:
        tunet = torch_unet(args)
    for g, modules in paired.items():
        for stem, module in modules.items():
            print("torch: %s group" % g, stem, file=sys.stderr, flush=True)
            tor.update(time_group(module.torch_cases(torch), args.repetitions, args.min_time))
    load_after = os.getloadavg()
    snap1, wall1 = cpu_snapshot(), time.time()
    # CPU time other processes used during the run, as a fraction of the machine: what else was competing
    others = max(0.0, (snap1[0] - snap0[0]) - (snap1[1] - snap0[1])) / ((wall1 - wall0) * (os.cpu_count() or 1))

    vox = voxs.get("core", {})
    ag = voxs.get("autograd", {})
    vops = voxs.get("ops", {})
    vunet = voxs.get("unet", {})
    ctx = next((ctxs[g] for g in GROUPS if g in ctxs), {})
    rows, misses, noisy = [], [], []

    def entry(results, name):
        e = results.get(name)
        if not e:
            return None
        if e.get("cv", 0) > 0.10:
            noisy.append("voxnn %s cv %.0f%%" % (name, 100 * e["cv"]))
        return e

    def vox_rate(name, key, results=None):
        e = entry(vox if results is None else results, name)
        return None if e is None else e["counters"][key] / e["seconds"] / 1e9

    def vox_ms(name, results):
        e = entry(results, name)
        return None if e is None else e["seconds"] * 1e3

    def tor_sec(name):
        if name not in tor:
            return None
        sec, cv = tor[name]
        if cv > 0.10:
            noisy.append("torch %s cv %.0f%%" % (name, 100 * cv))
        return sec

    def tor_rate(name, amount):
        sec = tor_sec(name)
        return None if sec is None else amount / sec / 1e9

    def tor_ms(name):
        sec = tor_sec(name)
        return None if sec is None else sec * 1e3

    def fmt(v, unit):
        return "—" if v is None else ("%.1f %s" % (v, unit) if v >= 10 else "%.2f %s" % (v, unit))

    def ratio(v, t, higher_is_better=True):
        if v is None or t is None or v == 0 or t == 0:
            return "—"
        return "%.2f" % (v / t if higher_is_better else t / v)

    def add_row(label, v, t, unit, target="—", met="—", higher=True, ref=None):
        """ref: PyTorch's forced-oneDNN figure, printed with voxnn's ratio to it."""
        ref_cell = "—" if ref is None else "%s (%sx)" % (fmt(ref, unit), ratio(v, ref, higher))
        rows.append([label, fmt(v, unit), fmt(t, unit), ratio(v, t, higher), ref_cell, target, met])

    def speedup(v, t, higher=True):
        if v is None or t is None or v == 0 or t == 0:
            return None
        return v / t if higher else t / v

    def judge(label, checks):
        """checks: [(ok or None when not measured, text)]; returns the met? cell and records a miss."""
        if any(ok is None for ok, _ in checks):
            met = "MISS (not run)"
        else:
            met = ("yes" if all(ok for ok, _ in checks) else "MISS") + " (" + ", ".join(t for _, t in checks) + ")"
        if not met.startswith("yes"):
            misses.append(label + ": " + met)
        return met

    if "core" in groups:
        # copy references
        copy_1 = vox_rate("BM_copy_memcpy_1thread", "bytes")
        copy_n = vox_rate("BM_copy_memcpy_threads", "bytes")
        copy_s = vox_rate("BM_copy_stream_threads", "bytes")
        nthreads = int(ctx.get("voxnn_threads", "0") or 0)
        copy_ref = max(x for x in (copy_1, copy_n, copy_s, 0.0) if x is not None)
        add_row("copy 64 Mi floats, memcpy 1 thread (reference)", copy_1, None, "GB/s")
        add_row("copy 64 Mi floats, memcpy %d threads (reference)" % nthreads, copy_n, None, "GB/s")
        add_row("copy 64 Mi floats, streaming stores %d threads (reference)" % nthreads, copy_s, None, "GB/s")
        add_row("copy 64 Mi floats: Tensor::copy_ / Tensor.copy_", vox_rate("BM_copy_voxnn", "bytes"),
                tor_rate("copy", 2 * 4 * ELEMS), "GB/s")

        bw_target = BW_FRACTION * copy_ref
        for label, vname, tname, nbytes in [
            ("add fresh output: add(a, b)", "BM_add_fresh", "add_fresh", 3),
            ("add out=: add_out(o, a, b) / add(a, b, out=o)", "BM_add_out", "add_out", 3),
            ("add in place: add_(o, b) / o.add_(b)", "BM_add_inplace", "add_inplace", 3),
            ("mul-add fresh output: addcmul(c, a, b)", "BM_addcmul_fresh", "addcmul_fresh", 4),
            ("mul-add in place: addcmul_(o, a, b)", "BM_addcmul_inplace", "addcmul_inplace", 4),
        ]:
            v = vox_rate(vname, "bytes")
            t = tor_rate(tname, nbytes * 4 * ELEMS)
            ok = v is not None and v >= bw_target
            met = "yes (%.0f%% of copy)" % (100 * v / copy_ref) if ok else \
                ("MISS (%.0f%% of copy)" % (100 * v / copy_ref) if v is not None else "MISS (not run)")
            if not ok:
                misses.append(label + ": " + met)
            add_row(label + ", 64 Mi floats", v, t, "GB/s", ">= %.1f GB/s (70%% of copy)" % bw_target, met)

        # GEMM
        eig = vox_rate("BM_gemm_eigen", "flops")
        cbl = vox_rate("BM_gemm_cblas", "flops")
        add_row("GEMM 2048^3 raw Eigen (reference)", eig, None, "GFLOP/s")
        if cbl is not None:
            add_row("GEMM 2048^3 raw cblas_sgemm (reference)", cbl, None, "GFLOP/s")
        best = max(x for x in (eig, cbl, 0.0) if x is not None)
        best_name = "cblas_sgemm" if cbl is not None and cbl >= (eig or 0) else "Eigen"
        v = vox_rate("BM_matmul_voxnn", "flops")
        t = tor_rate("matmul", 2.0 * GEMM_N ** 3)
        ok = v is not None and v >= GEMM_FRACTION * best
        met = ("yes (%.0f%% of %s)" if ok else "MISS (%.0f%% of %s)") % (100 * (v or 0) / best, best_name)
        if not ok:
            misses.append("matmul 2048^3: " + met)
        add_row("matmul 2048^3 float", v, t, "GFLOP/s",
                ">= %.1f GFLOP/s (90%% of %s)" % (GEMM_FRACTION * best, best_name), met)

    if "autograd" in groups:
        # autograd, microseconds per op
        def vox_us(name):
            e = entry(ag, name)
            return None if e is None else e["seconds"] / e["counters"].get("ops", CHAIN_OPS) * 1e6

        def tor_us(name):
            sec = tor_sec(name)
            return None if sec is None else sec / CHAIN_OPS * 1e6

        v_ng, v_rec, v_fb = vox_us("BM_autograd_forward_nograd"), vox_us("BM_autograd_forward_record"), \
            vox_us("BM_autograd_forward_backward")
        t_ng, t_rec, t_fb = tor_us("ag_nograd"), tor_us("ag_record"), tor_us("ag_fwd_bwd")
        add_row("1-element op, no grad (per op)", v_ng, t_ng, "us", higher=False)
        for label, v, t in [
            ("autograd recording overhead per op (record - no grad)",
             None if v_rec is None else v_rec - v_ng, t_rec - t_ng),
            ("autograd overhead per op incl. backward (fwd+bwd - no grad)",
             None if v_fb is None else v_fb - v_ng, t_fb - t_ng),
        ]:
            ok = v is not None and v < AUTOGRAD_US
            met = "yes" if ok else ("MISS" if v is not None else "MISS (autograd bench not built)")
            if not ok:
                misses.append(label + ": " + met)
            add_row(label, v, t, "us", "< 2 us", met, higher=False)

    if "ops" in groups:
        # FMA peak: the faster of the binary's packet widths
        peaks = {name: vox_rate(name, "flops", vops) for name in sorted(vops) if name.startswith("fma_peak_")}
        for name, v in peaks.items():
            add_row("FMA peak, %s-bit packets, %s threads (reference)" % (name.split("_")[-1],
                    ctxs["ops"].get("voxnn_threads", "?")), v, None, "GFLOP/s")
        peak = max([v for v in peaks.values() if v is not None] or [None]) if peaks else None

        for i, shape in enumerate(CONV_SHAPES):
            n, ci, co, sz = shape
            tag = conv_tag(shape)
            path = paths.get(tag)
            slow = path == "slow_conv3d" if path is not None else i < 4  # the assignment if unknown
            desc = "conv3d k3 p1 fwd N=%d %d->%d %d^3 [torch: %s]" % (n, ci, co, sz, path or "?")
            v = vox_rate("conv3d_fwd_" + tag, "flops", vops)
            t = tor_rate("conv3d_fwd_" + tag, conv_flops(shape))
            ref = tor_rate("onednn_conv3d_fwd_" + tag, conv_flops(shape))
            need = CONV_SLOW_SPEEDUP if slow else CONV_ONEDNN_SPEEDUP
            sp = speedup(v, t)
            checks, target = [], []
            if ci >= 16:
                frac = None if v is None or not peak else v / peak
                checks.append((None if frac is None else frac >= CONV_PEAK_FRACTION,
                               "%.0f%% of peak" % (100 * frac) if frac is not None else "peak?"))
                target.append(">= %.0f%% of FMA peak" % (100 * CONV_PEAK_FRACTION))
            checks.append((None if sp is None else sp >= need, "%.2fx" % sp if sp is not None else "?"))
            target.append(">= %.1fx PyTorch" % need)
            add_row(desc, v, t, "GFLOP/s", "; ".join(target), judge(desc, checks), ref=ref)
        for shape in CONV_SHAPES:
            n, ci, co, sz = shape
            tag = conv_tag(shape)
            desc = "conv3d k3 p1 fwd+bwd N=%d %d->%d %d^3 [torch: %s]" % (n, ci, co, sz, paths.get(tag) or "?")
            v = vox_rate("conv3d_fwdbwd_" + tag, "flops", vops)
            t = tor_rate("conv3d_fwdbwd_" + tag, 3 * conv_flops(shape))
            ref = tor_rate("onednn_conv3d_fwdbwd_" + tag, 3 * conv_flops(shape))
            sp = speedup(v, t)
            met = judge(desc, [(None if sp is None else sp >= CONV_FWDBWD_SPEEDUP, "%.2fx" % (sp or 0))])
            add_row(desc, v, t, "GFLOP/s", ">= %.1fx PyTorch" % CONV_FWDBWD_SPEEDUP, met, ref=ref)

        def time_row(desc, name, need=None):
            v, t = vox_ms(name, vops), tor_ms(name)
            if need is None:
                add_row(desc, v, t, "ms", higher=False)
                return
            sp = speedup(v, t, higher=False)
            met = judge(desc, [(None if sp is None else sp >= need, "%.2fx" % (sp or 0))])
            add_row(desc, v, t, "ms", ">= %.1fx PyTorch" % need, met, higher=False)

        time_row("conv_transpose3d k2 s2 fwd 32->16, 32^3 -> 64^3", "conv_transpose3d_fwd", CONVT_SPEEDUP)
        time_row("conv_transpose3d k2 s2 fwd+bwd 32->16, 32^3 -> 64^3", "conv_transpose3d_fwdbwd", CONVT_SPEEDUP)
        time_row("BatchNorm3d train fwd+bwd (2, 32, 64^3)", "batch_norm3d_train_fwdbwd", NORM_SPEEDUP)
        time_row("InstanceNorm3d affine train fwd+bwd (2, 32, 64^3)", "instance_norm3d_train_fwdbwd", NORM_SPEEDUP)
        time_row("max_pool3d k2 s2 fwd (1, 32, 64^3)", "max_pool3d_fwd")
        time_row("max_pool3d k2 s2 fwd+bwd (1, 32, 64^3)", "max_pool3d_fwdbwd")
        time_row("trilinear x2 upsample fwd (1, 32, 32^3)", "upsample_trilinear_fwd")
        time_row("trilinear x2 upsample fwd+bwd (1, 32, 32^3)", "upsample_trilinear_fwdbwd")

    if "unet" in groups:
        e = entry(vunet, "unet_train_step")
        v = None if e is None else e["seconds"]
        t = None
        if tunet is not None:
            t = tunet["seconds"]
            if tunet["cv"] > 0.10:
                noisy.append("torch unet_train_step cv %.0f%%" % (100 * tunet["cv"]))
        desc = "U-Net 16-32-64-128 training step, 1x1x64^3, Adam"
        sp = speedup(v, t, higher=False)
        met = judge(desc, [(None if v is None or t is None else v <= UNET_TIME_FRACTION * t,
                            "%.2fx PyTorch's time" % (v / t) if v and t else "?")])
        add_row(desc, v, t, "s", "<= %.1fx PyTorch's time" % UNET_TIME_FRACTION, met, higher=False)
        vr = None if e is None else e["counters"].get("peak_rss_mib")
        tr = None if tunet is None else tunet["peak_rss_mib"]
        desc = "U-Net training: peak RSS of the process (VmHWM)"
        met = judge(desc, [(None if vr is None or tr is None else vr <= tr,
                            "%.0f vs %.0f MiB" % (vr, tr) if vr and tr else "?")])
        add_row(desc, vr, tr, "MiB", "<= PyTorch's", met, higher=False)
        if tunet is not None:
            add_row("  (PyTorch process RSS after import, before the model)", None, tunet["baseline_rss_mib"], "MiB")

    for g in paired:
        results = vpaired[g]
        for name in sorted(results):
            need = IMAGING_SPEEDUP.get(name)
            desc = IMAGING_LABELS.get(name, name)
            v, t = vox_ms(name, results), tor_ms(name)
            if need is None:
                add_row(desc, v, t, "ms", higher=False)
            else:
                sp = speedup(v, t, higher=False)
                met = judge(desc, [(None if sp is None else sp >= need, "%.2fx" % (sp or 0))])
                add_row(desc, v, t, "ms", ">= %.1fx PyTorch" % need, met, higher=False)
            for other in sorted(k for k in tor if k.startswith(name + ".")):  # the same case in scipy, MONAI...
                add_row("  %s (reference: %s)" % (desc, other[len(name) + 1:]), v, tor_ms(other), "ms", higher=False)

    # ---- print
    blas_info, blas_libs = torch_blas(torch)
    print()
    print("voxnn vs PyTorch, %s, %s, %d CPUs; groups: %s" % (datetime.date.today().isoformat(),
                                                            platform.processor() or platform.machine(),
                                                            os.cpu_count(), ", ".join(groups)))
    print("voxnn: %s threads (OpenMP)%s; Google Benchmark library build: %s" %
          (ctx.get("voxnn_threads", "?"), "; GEMM: " + ctxs["core"].get("blas", "?") if "core" in ctxs else "",
           ctx.get("library_build_type", "?")))
    print("PyTorch %s: %d threads (torch.set_num_threads); BLAS_INFO=%s; BLAS mapped: %s; oneDNN: %s" %
          (torch.__version__, torch.get_num_threads(), blas_info, ", ".join(blas_libs) or "none",
           "available" if torch.backends.mkldnn.is_available() else "not available"))
    print("protocol: warm-up 0.3 s, median of %d repetitions of >= %g s each, wall-clock time; "
          "load average %.2f before, %.2f after; other processes used %.0f%% of the CPUs during the run" %
          (args.repetitions, args.min_time, load_before[0], load_after[0], 100 * others))
    print("ratio = voxnn speed / PyTorch speed (> 1: voxnn faster); for times and sizes (ms, s, us, MiB) "
          "PyTorch / voxnn")
    if "ops" in groups:
        print("conv3d GFLOP/s count 2*N*Cout*Cin*27*voxels per forward, 3x that for forward+backward; "
              "'PyTorch oneDNN' = torch.mkldnn_convolution, with voxnn's ratio to it")
    print()
    header = ["benchmark", "voxnn", "PyTorch", "ratio", "PyTorch oneDNN (forced)", "target", "met?"]
    if "ops" not in groups:  # the oneDNN column only has entries for the conv3d rows
        header.pop(4)
        for r in rows:
            r.pop(4)
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print()
    if misses:
        print("MISSES (%d):" % len(misses))
        for m in misses:
            print("  -", m)
    else:
        print("all targets met")
    if noisy:
        print("noisy (cv > 10%):", "; ".join(noisy))

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"context": ctxs.get("core", {}), "autograd_context": ctxs.get("autograd", {}),
                       "ops_context": ctxs.get("ops", {}), "unet_context": ctxs.get("unet", {}),
                       "voxnn": vox, "voxnn_autograd": ag, "voxnn_ops": vops, "voxnn_unet": vunet,
                       "torch": {k: {"seconds": s, "cv": c} for k, (s, c) in tor.items()},
                       "torch_conv3d_paths": paths, "torch_unet": tunet,
                       "rows": rows, "misses": misses}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
