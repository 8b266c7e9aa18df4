#!/usr/bin/env python3
"""Runs voxnn's Google Benchmark binaries and the same shapes in PyTorch, in one run, and prints one table.

    /usr/bin/python3 bench/compare_pytorch.py [--build-dir build/bench] [--repetitions 5]

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
  * autograd overhead per recorded op < 2 us (chain of 100 ops on 1-element tensors).
A target that is not met is printed as MISS, and listed again under the table.
Needs PyTorch; when it cannot be imported the script re-executes itself with /usr/bin/python3 (Debian's
python3-torch).
"""
import argparse
import datetime
import json
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


# ---- voxnn side ------------------------------------------------------------------------------------------
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


def torch_results(torch, repetitions, min_time):
    g = torch.Generator().manual_seed(0)
    res = torch_elementwise(torch, g, repetitions, min_time)
    res.update(torch_matmul(torch, g, repetitions, min_time))

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

    res.update(time_group([("ag_nograd", nograd), ("ag_record", chain), ("ag_fwd_bwd", fwd_bwd)], repetitions,
                          min_time))
    return res


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
    ap.add_argument("--build-dir", default="build/bench", help="folder with voxnn_bench_core, voxnn_bench_autograd")
    ap.add_argument("--core-bin", help="path of the core benchmark binary (default BUILD_DIR/voxnn_bench_core)")
    ap.add_argument("--autograd-bin", help="path of the autograd binary (default BUILD_DIR/voxnn_bench_autograd)")
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per timed repetition")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--json", help="also write all raw figures to this file")
    args = ap.parse_args()
    if args.repetitions < 5:
        ap.error("the protocol needs at least 5 repetitions")

    torch = import_torch()
    torch.set_num_threads(args.threads)
    def find_bin(name):  # bench/bench_<name>.cpp builds as voxnn_bench_<name> (or, unstripped, voxnn_bench_bench_<name>)
        for cand in ("voxnn_bench_" + name, "voxnn_bench_bench_" + name):
            if os.path.exists(os.path.join(args.build_dir, cand)):
                return os.path.join(args.build_dir, cand)
        return os.path.join(args.build_dir, "voxnn_bench_" + name)

    core_bin = args.core_bin or find_bin("core")
    ag_bin = args.autograd_bin or find_bin("autograd")
    if not os.path.exists(core_bin):
        sys.exit("compare_pytorch.py: %s not found; build it (cmake --build build --target voxnn_bench_core) or "
                 "pass --build-dir / --core-bin" % core_bin)

    load_before = os.getloadavg()
    snap0, wall0 = cpu_snapshot(), time.time()
    ctx, vox = run_binary(core_bin, args.repetitions, args.min_time)
    ag_ctx, ag = ({}, {})
    if os.path.exists(ag_bin):
        ag_ctx, ag = run_binary(ag_bin, args.repetitions, args.min_time)
    tor = torch_results(torch, args.repetitions, args.min_time)
    load_after = os.getloadavg()
    snap1, wall1 = cpu_snapshot(), time.time()
    # CPU time other processes used during the run, as a fraction of the machine: what else was competing
    others = max(0.0, (snap1[0] - snap0[0]) - (snap1[1] - snap0[1])) / ((wall1 - wall0) * (os.cpu_count() or 1))

    rows, misses, noisy = [], [], []

    def vox_rate(name, key):
        e = vox.get(name)
        if not e:
            return None
        if e.get("cv", 0) > 0.10:
            noisy.append("voxnn %s cv %.0f%%" % (name, 100 * e["cv"]))
        return e["counters"][key] / e["seconds"] / 1e9

    def tor_rate(name, amount):
        if name not in tor:
            return None
        sec, cv = tor[name]
        if cv > 0.10:
            noisy.append("torch %s cv %.0f%%" % (name, 100 * cv))
        return amount / sec / 1e9

    def fmt(v, unit):
        return "—" if v is None else ("%.1f %s" % (v, unit) if v >= 10 else "%.2f %s" % (v, unit))

    def ratio(v, t, higher_is_better=True):
        if v is None or t is None or v == 0 or t == 0:
            return "—"
        return "%.2f" % (v / t if higher_is_better else t / v)

    def add_row(label, v, t, unit, target="—", met="—", higher=True):
        rows.append([label, fmt(v, unit), fmt(t, unit), ratio(v, t, higher), target, met])

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
    add_row("matmul 2048^3 float", v, t, "GFLOP/s", ">= %.1f GFLOP/s (90%% of %s)" % (GEMM_FRACTION * best, best_name),
            met)

    # autograd, microseconds per op
    def vox_us(name):
        e = ag.get(name)
        if not e:
            return None
        if e.get("cv", 0) > 0.10:
            noisy.append("voxnn %s cv %.0f%%" % (name, 100 * e["cv"]))
        return e["seconds"] / e["counters"].get("ops", CHAIN_OPS) * 1e6

    def tor_us(name):
        sec, cv = tor[name]
        if cv > 0.10:
            noisy.append("torch %s cv %.0f%%" % (name, 100 * cv))
        return sec / CHAIN_OPS * 1e6

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

    # ---- print
    blas_info, blas_libs = torch_blas(torch)
    print()
    print("voxnn vs PyTorch, %s, %s, %d CPUs" % (datetime.date.today().isoformat(), platform.processor() or
                                                  platform.machine(), os.cpu_count()))
    print("voxnn: %s threads (OpenMP); GEMM: %s; Google Benchmark library build: %s" %
          (ctx.get("voxnn_threads", "?"), ctx.get("blas", "?"), ctx.get("library_build_type", "?")))
    print("PyTorch %s: %d threads (torch.set_num_threads); BLAS_INFO=%s; BLAS mapped: %s" %
          (torch.__version__, torch.get_num_threads(), blas_info, ", ".join(blas_libs) or "none"))
    print("protocol: warm-up 0.3 s, median of %d repetitions of >= %.1f s each, wall-clock time; "
          "load average %.2f before, %.2f after; other processes used %.0f%% of the CPUs during the run" %
          (args.repetitions, args.min_time, load_before[0], load_after[0], 100 * others))
    print("ratio = voxnn speed / PyTorch speed (> 1: voxnn faster)")
    print()
    header = ["benchmark", "voxnn", "PyTorch", "ratio", "target", "met?"]
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
            json.dump({"context": ctx, "autograd_context": ag_ctx, "voxnn": vox, "voxnn_autograd": ag,
                       "torch": {k: {"seconds": s, "cv": c} for k, (s, c) in tor.items()},
                       "rows": rows, "misses": misses}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
