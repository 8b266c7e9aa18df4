"""PyTorch side of bench/bench_imaging_fft.cpp: the same shapes and calls (see that file's header), with
torch.fft.fftn / ifftn on complex tensors and fastMRI's fft2c written out on a trailing-2 real tensor
(ifftshift, view_as_complex, fftn over the last two dims, view_as_real, fftshift: fastmri.fft2c's body,
with torch.fft.fftshift / ifftshift, whose shifts equal fastmri's). torch_cases(torch) -> [(voxnn
benchmark name, zero-argument callable)]; the caller sets the thread count."""


def torch_cases(torch):
    gen = torch.Generator().manual_seed(0)

    def cplx(*shape, dtype=torch.complex64):
        return torch.randn(*shape, dtype=dtype, generator=gen)

    def fft2c(x, norm="ortho"):
        x = torch.fft.ifftshift(x, dim=(-3, -2))
        x = torch.view_as_real(torch.fft.fftn(torch.view_as_complex(x), dim=(-2, -1), norm=norm))
        return torch.fft.fftshift(x, dim=(-3, -2))

    cases = []
    x2 = cplx(1, 8, 320, 320)
    x2d = cplx(1, 8, 320, 320, dtype=torch.complex128)
    x3 = cplx(128, 128, 128)
    x1 = cplx(2560, 97)
    r2 = torch.view_as_real(cplx(1, 8, 320, 320)).contiguous()
    rg = torch.view_as_real(cplx(1, 8, 320, 320)).contiguous().requires_grad_(True)
    gy = torch.view_as_real(cplx(1, 8, 320, 320)).contiguous()

    def nograd(f):
        def run():
            with torch.no_grad():
                f()
        return run

    cases.append(("fft2_320x320x8_fwd", nograd(lambda: torch.fft.fftn(x2, dim=(-2, -1)))))
    cases.append(("fft2_320x320x8_inv", nograd(lambda: torch.fft.ifftn(x2, dim=(-2, -1)))))
    cases.append(("fft2_320x320x8_fwd_f64", nograd(lambda: torch.fft.fftn(x2d, dim=(-2, -1)))))
    cases.append(("fft3_128_fwd", nograd(lambda: torch.fft.fftn(x3, dim=(0, 1, 2)))))
    cases.append(("fft2c_320x320x8_fwd", nograd(lambda: fft2c(r2))))

    def fwdbwd():
        y = fft2c(rg)
        y.backward(gy)
        rg.grad = None

    cases.append(("fft2c_fwdbwd_320x320x8", fwdbwd))
    cases.append(("fft1_97x2560_fwd", nograd(lambda: torch.fft.fftn(x1, dim=(-1,)))))
    return cases
