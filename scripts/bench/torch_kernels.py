#!/usr/bin/env python3
"""PyTorch baseline for `ddpm bench kernels`: the same convolutions, GEMM and GroupNorm+SiLU,
float32, 2 threads, median of timed runs after warm-up. Prints one JSON object on stdout.

Usage: python3 torch_kernels.py [--repeats N]
(needs torch: pip install torch)
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass


def median_seconds(fn, repeats):
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def conv_case(cin, cout, size, batch, repeats, kernel=3):
    g = torch.Generator().manual_seed(0)
    pad = kernel // 2
    x = torch.randn(batch, cin, size, size, generator=g)
    w = torch.randn(cout, cin, kernel, kernel, generator=g) * 0.05
    dy = torch.randn(batch, cout, size, size, generator=g)
    fwd = median_seconds(lambda: F.conv2d(x, w, padding=pad), repeats)
    # backward-data and backward-weights separately, through autograd's convolution_backward
    bwd_data = median_seconds(
        lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1,
                                                    [True, False, False]), repeats)
    bwd_weight = median_seconds(
        lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1,
                                                    [False, True, False]), repeats)
    return {"forward": fwd, "backwardData": bwd_data, "backwardWeight": bwd_weight}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=7)
    a = p.parse_args()
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    out["conv128x32"] = conv_case(128, 128, 32, 16, a.repeats)
    out["conv256x16"] = conv_case(256, 256, 16, 16, a.repeats)
    out["conv256x8"] = conv_case(256, 256, 8, 16, a.repeats)
    out["conv256x4"] = conv_case(256, 256, 4, 16, a.repeats)
    out["conv1x1x256x16"] = conv_case(256, 256, 16, 16, a.repeats, kernel=1)
    m = torch.randn(1024, 1024)
    n = torch.randn(1024, 1024)
    out["gemm1024"] = median_seconds(lambda: m @ n, a.repeats)
    x = torch.randn(16, 128, 32, 32)
    gamma, beta = torch.ones(128), torch.zeros(128)
    out["groupNormSiLU"] = median_seconds(lambda: F.silu(F.group_norm(x, 32, gamma, beta, 1e-6)), a.repeats)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
