"""PyTorch side of bench/bench_data_sliding_window.cpp: MONAI 1.3.2's
monai.inferers.sliding_window_inference on the same shapes and options (see that file's header) with an
identity predictor. torch_cases(torch) -> [(voxnn benchmark name, zero-argument callable)]; the caller sets
the thread count. Without monai (it lives in the reference venv, /work/venv-ref) there are no cases."""


def torch_cases(torch):
    try:
        from monai.inferers import sliding_window_inference
    except Exception:  # ImportError, or a package that fails while importing
        return []
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 1, 160, 192, 160, generator=gen)

    def case(overlap, mode):
        def run():
            with torch.no_grad():
                sliding_window_inference(x, (96, 96, 96), 4, lambda w: w, overlap=overlap, mode=mode)
        return run

    return [
        ("sliding_window_160x192x160_roi96_o25_gaussian", case(0.25, "gaussian")),
        ("sliding_window_160x192x160_roi96_o50_gaussian", case(0.5, "gaussian")),
        ("sliding_window_160x192x160_roi96_o50_constant", case(0.5, "constant")),
    ]
