"""Regenerate seed_tensors.npz: the exact inputs of the seed notebook.

The seed notebook draws its inputs from PyTorch's CPU generator after
torch.manual_seed(0). NumPy cannot reproduce that stream, so the tensors are
stored here once, as float32 (what the notebook used), together with the
values and gradients that PyTorch autograd printed for them.

Run with PyTorch installed (CPU build, tested with 2.13.0):
    python make_seed_tensors.py
"""

import numpy as np
import torch


def affine():
    torch.manual_seed(0)
    x = torch.randn(10, 4, requires_grad=True)
    w = torch.randn(4, 4, requires_grad=True)
    b = torch.randn(10, 4, requires_grad=True)
    f = (x.mm(w) + b).pow(2).sum()
    f.backward()
    return {
        "affine_X": x,
        "affine_W": w,
        "affine_b": b,
        "affine_f": f,
        "affine_dX": x.grad,
        "affine_dW": w.grad,
        "affine_db": b.grad,
    }


def two_layer_post_bias():
    """The notebook's code: Yp = (sigmoid(X W1) + b1) W2 + b2."""
    torch.manual_seed(0)
    x = torch.randn(100, 1, requires_grad=True)
    y = torch.randn(100, 1, requires_grad=True)
    w1 = torch.randn(1, 10, requires_grad=True)
    w2 = torch.randn(10, 1, requires_grad=True)
    b1 = torch.randn(100, 10, requires_grad=True)
    b2 = torch.randn(100, 1, requires_grad=True)
    yp = (torch.sigmoid(x.mm(w1)) + b1).mm(w2) + b2
    f = (y - yp).pow(2).sum()
    f.backward()
    out = {"net_X": x, "net_Y": y, "net_W1": w1, "net_W2": w2, "net_b1": b1, "net_b2": b2, "net_post_f": f}
    for name, t in (("X", x), ("Y", y), ("W1", w1), ("W2", w2), ("b1", b1), ("b2", b2)):
        out[f"net_post_d{name}"] = t.grad
    return out


def two_layer_pre_bias(inputs):
    """The notebook's stated formula: Yp = sigmoid(X W1 + b1) W2 + b2, same inputs."""
    ts = {k: torch.tensor(inputs[f"net_{k}"], requires_grad=True) for k in ("X", "Y", "W1", "W2", "b1", "b2")}
    yp = torch.sigmoid(ts["X"].mm(ts["W1"]) + ts["b1"]).mm(ts["W2"]) + ts["b2"]
    f = (ts["Y"] - yp).pow(2).sum()
    f.backward()
    out = {"net_pre_f": f}
    for k, t in ts.items():
        out[f"net_pre_d{k}"] = t.grad
    return out


def main():
    data = {**affine(), **two_layer_post_bias()}
    arrays = {k: v.detach().numpy() for k, v in data.items()}
    arrays.update({k: v.detach().numpy() for k, v in two_layer_pre_bias(arrays).items()})
    np.savez_compressed("seed_tensors.npz", **arrays)
    for k, v in arrays.items():
        print(k, v.shape, v.dtype)


if __name__ == "__main__":
    main()
