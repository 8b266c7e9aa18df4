"""PyTorch side of bench/bench_imaging_attention.cpp: the same shapes and calls (see that file's
header). torch_cases(torch) -> [(voxnn benchmark name, zero-argument callable)]; the caller sets
the thread count."""

import math

SLICES, BATCH, HEADS = 91, 8, 4


def pooled_attention_module(torch, dim, heads):
    """The reference's PooledAttention (2D-slice set networks) written from its definition."""
    nn = torch.nn
    F = torch.nn.functional

    class PooledAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.S = nn.Parameter(torch.empty(1, dim))
            nn.init.xavier_uniform_(self.S)
            self.fc_k = nn.Linear(dim, dim)
            self.fc_v = nn.Linear(dim, dim)
            self.ln0 = nn.LayerNorm(dim)
            self.fc_o = nn.Linear(dim, dim)

        def forward(self, x):
            b, c, _ = x.shape
            d = dim // heads
            k, v = self.fc_k(x), self.fc_v(x)
            q = self.S.reshape(1, 1, dim).expand(b, 1, dim)
            qh = torch.cat(q.split(d, 2), 0)
            kh = torch.cat(k.split(d, 2), 0)
            vh = torch.cat(v.split(d, 2), 0)
            a = torch.softmax(qh.bmm(kh.transpose(1, 2)) / math.sqrt(d), 2)
            o = torch.cat(a.bmm(vh).split(b, 0), 2)
            return self.fc_o(self.ln0(o)), a

    return PooledAttention()


def torch_cases(torch):
    gen = torch.Generator().manual_seed(0)
    cases = []

    def mha_fwdbwd(e):
        m = torch.nn.MultiheadAttention(e, HEADS, batch_first=True)
        x = torch.randn(BATCH, SLICES, e, generator=gen).requires_grad_()
        gy = torch.randn(BATCH, SLICES, e, generator=gen)

        def run():
            y, _ = m(x, x, x)
            y.backward(gy)
            m.zero_grad(set_to_none=True)
            x.grad = None

        return run

    for e in (32, 64):
        cases.append((f"mha_fwdbwd_L91_B8_E{e}", mha_fwdbwd(e)))

    m64 = torch.nn.MultiheadAttention(64, HEADS, batch_first=True).eval()
    x64 = torch.randn(BATCH, SLICES, 64, generator=gen)

    def mha_fwd():
        with torch.no_grad():
            m64(x64, x64, x64)

    cases.append(("mha_fwd_L91_B8_E64", mha_fwd))

    pa = pooled_attention_module(torch, 64, HEADS)
    xp = torch.randn(BATCH, SLICES, 64, generator=gen).requires_grad_()
    gp = torch.randn(BATCH, 1, 64, generator=gen)

    def pooled():
        o, _ = pa(xp)
        o.backward(gp)
        pa.zero_grad(set_to_none=True)
        xp.grad = None

    cases.append(("pooled_attention_fwdbwd_L91_B8_E64", pooled))
    return cases
