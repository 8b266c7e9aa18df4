"""PyTorch side of bench/bench_imaging_mri.cpp: the same shapes and calls (see that file's header) with
fastMRI 0.3.0's definitions written out on trailing-2 real tensors (complex_mul, rss_complex, fft2c /
ifft2c with torch.fft.fftshift / ifftshift, whose shifts equal fastmri's, and VarNetBlock's sens_expand,
sens_reduce and forward), so that it runs without fastmri installed. torch_cases(torch) -> [(voxnn
benchmark name, zero-argument callable)]; the caller sets the thread count."""


def torch_cases(torch):
    gen = torch.Generator().manual_seed(0)

    def randn(*shape, grad=False):
        return torch.randn(*shape, generator=gen).requires_grad_(grad)

    def complex_mul(x, y):
        re = x[..., 0] * y[..., 0] - x[..., 1] * y[..., 1]
        im = x[..., 0] * y[..., 1] + x[..., 1] * y[..., 0]
        return torch.stack((re, im), dim=-1)

    def complex_conj(x):
        return torch.stack((x[..., 0], -x[..., 1]), dim=-1)

    def rss_complex(x, dim):
        return torch.sqrt((x**2).sum(dim=-1).sum(dim))

    def centred(fn, x):
        x = torch.fft.ifftshift(x, dim=(-3, -2))
        x = torch.view_as_real(fn(torch.view_as_complex(x), dim=(-2, -1), norm="ortho"))
        return torch.fft.fftshift(x, dim=(-3, -2))

    def sens_expand(x, s):
        return centred(torch.fft.fftn, complex_mul(x, s))

    def sens_reduce(k, s):
        return complex_mul(centred(torch.fft.ifftn, k), complex_conj(s)).sum(dim=1, keepdim=True)

    x, s, k = randn(1, 1, 320, 320, 2), randn(1, 8, 320, 320, 2), randn(1, 8, 320, 320, 2)
    xg, sg, kg = randn(1, 1, 320, 320, 2, grad=True), randn(1, 8, 320, 320, 2, grad=True), randn(1, 8, 320, 320, 2, grad=True)
    k0, gy = randn(1, 8, 320, 320, 2), randn(1, 8, 320, 320, 2)
    w = torch.ones(1, requires_grad=True)
    cols = torch.arange(320)
    mask = ((cols % 4 == 0) | ((cols >= 147) & (cols < 173))).reshape(1, 1, 1, 320, 1)
    zero = torch.zeros(1, 1, 1, 1, 1)

    def nograd(f):
        def run():
            with torch.no_grad():
                f()
        return run

    def expand_fwdbwd():
        sens_expand(xg, sg).backward(gy)
        xg.grad = sg.grad = None

    def dc_fwdbwd():
        soft_dc = torch.where(mask, kg - k0, zero) * w
        (kg - soft_dc - sens_expand(sens_reduce(kg, sg), sg)).backward(gy)
        kg.grad = sg.grad = w.grad = None

    return [
        ("complex_mul_320x320x8", nograd(lambda: complex_mul(x, s))),
        ("rss_complex_320x320x8", nograd(lambda: rss_complex(k, 1))),
        ("sens_expand_320x320x8", nograd(lambda: sens_expand(x, s))),
        ("sens_reduce_320x320x8", nograd(lambda: sens_reduce(k, s))),
        ("sens_expand_fwdbwd_320x320x8", expand_fwdbwd),
        ("varnet_dc_fwdbwd_320x320x8", dc_fwdbwd),
    ]
