"""MONAI side of bench/bench_data_transforms.cpp: MONAI 1.3.2's dictionary transforms on the same shapes
(image + label, bilinear image / nearest label, reflection padding), imported from the reference venv
(/work/venv-ref, see tests/fixtures/README.md). torch_cases(torch) -> [(voxnn benchmark name,
zero-argument callable)]; the caller sets the thread count. Returns no cases when monai is missing."""

import sys


def _import_monai():
    try:
        import monai  # noqa: F401
    except ImportError:
        import glob
        for site in glob.glob("/work/venv-ref/lib/python3*/site-packages"):
            if site not in sys.path:
                sys.path.append(site)
        try:
            import monai  # noqa: F401
        except ImportError:
            return None
    import monai
    monai.data.meta_obj.set_track_meta(False)
    return monai


def torch_cases(torch):
    monai = _import_monai()
    if monai is None:
        print("pytorch_data_transforms: monai is not importable; no cases")
        return []
    from monai.transforms import (Compose, NormalizeIntensityd, Rand3DElasticd, RandAffined, RandFlipd,
                                  RandGaussianNoised, RandRotate90d, RandSpatialCropd)

    gen = torch.Generator().manual_seed(1)

    def sample(*shape):
        image = torch.randn(1, *shape, generator=gen)
        return {"image": image, "label": (image > 1).float()}

    big, cube, small = sample(160, 192, 160), sample(128, 128, 128), sample(96, 96, 96)
    keys = ["image", "label"]
    affine = dict(keys=keys, prob=1.0, rotate_range=(0.26, 0.26, 0.26), scale_range=(0.1, 0.1, 0.1),
                  mode=("bilinear", "nearest"), padding_mode="reflection")
    pipeline = Compose([
        NormalizeIntensityd(keys="image"),
        RandSpatialCropd(keys=keys, roi_size=(96, 96, 96), random_size=False),
        RandFlipd(keys=keys, prob=0.5),
        RandRotate90d(keys=keys, prob=0.5),
        RandAffined(**affine),
        RandGaussianNoised(keys="image", prob=1.0),
    ]).set_random_state(seed=0)
    rand_affine = RandAffined(**affine).set_random_state(seed=0)
    elastic = Rand3DElasticd(keys=keys, sigma_range=(5, 8), magnitude_range=(100, 200), prob=1.0,
                             mode=("bilinear", "nearest"), padding_mode="reflection").set_random_state(seed=0)
    normalize = NormalizeIntensityd(keys="image")
    noise = RandGaussianNoised(keys="image", prob=1.0).set_random_state(seed=0)

    def nograd(f, d):
        def run():
            with torch.no_grad():
                f(dict(d))
        return run

    return [
        ("BM_pipeline_160x192x160", nograd(pipeline, big)),
        ("BM_rand_affine_128", nograd(rand_affine, cube)),
        ("BM_elastic_128", nograd(elastic, cube)),
        ("BM_normalize_160x192x160", nograd(normalize, big)),
        ("BM_gaussian_noise_96", nograd(noise, small)),
    ]


if __name__ == "__main__":
    import time

    import torch

    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    for name, fn in torch_cases(torch):
        fn()
        times = []
        for _ in range(3):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
        print(f"{name}: {min(times) * 1e3:.1f} ms cpu (min of 3)")
