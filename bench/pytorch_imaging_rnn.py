"""PyTorch side of bench/bench_imaging_rnn.cpp: torch.nn.GRU / torch.nn.LSTM (one layer, unidirectional,
batch_first=False) at T=128, B=8, input 256, hidden 128, zero initial states. `_fwd` runs the forward
under torch.no_grad(); `_fwdbwd` runs it with the input and the parameters requiring grad and
backpropagates a fixed random output gradient, then sets the gradients to None."""

T, B, I, H = 128, 8, 256, 128
TAG = "_T128_B8_I256_H128"


def torch_cases(torch):
    g = torch.Generator().manual_seed(0)
    cases = []
    for kind in ("gru", "lstm"):
        module = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind](I, H)
        x = torch.randn(T, B, I, generator=g)
        xg = x.clone().requires_grad_()
        gy = torch.randn(T, B, H, generator=g)

        def fwd(m=module, x=x):
            with torch.no_grad():
                m(x)

        def fwdbwd(m=module, xg=xg, gy=gy):
            out, _ = m(xg)
            out.backward(gy)
            xg.grad = None
            m.zero_grad(set_to_none=True)

        cases.append((kind + "_fwd" + TAG, fwd))
        cases.append((kind + "_fwdbwd" + TAG, fwdbwd))
    return cases
