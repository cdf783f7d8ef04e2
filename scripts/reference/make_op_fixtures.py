#!/usr/bin/env python3
"""Writes Tests/TensorsTests/Fixtures/ops.safetensors: PyTorch reference values for every op of
the Tensors module.

For each case `name` the file holds:
    name/x0, name/x1, ...   inputs (Float32 values; integer timesteps as I64)
    name/y                  the output
    name/dy                 a random upstream gradient (cotangent), same shape as y
    name/dx0, name/dx1, ... the gradient of sum(y * dy) with respect to each differentiable input

Inputs are drawn in float64 from a seeded generator and rounded to float32; the reference is then
computed in float64 from those float32 values (so it is the exact answer for the inputs the Swift
tests see) and stored as float32. The timestep embedding is computed in float32, as diffusers does.

Usage: /work/venv/bin/python scripts/reference/make_op_fixtures.py   (from the package root)
"""
import math
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

SEED = 20200619  # arXiv:2006.11239 submission date
OUTPUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TensorsTests", "Fixtures", "ops.safetensors")

generator = torch.Generator().manual_seed(SEED)
tensors = {}


def randn(*shape, scale=1.0):
    """Normal samples rounded to float32, returned as float64."""
    return (torch.randn(tuple(shape), generator=generator, dtype=torch.float64) * scale).float().double()


def away_from_zero(*shape, low=0.5):
    """Values with |x| >= low and random sign (denominators)."""
    x = randn(*shape)
    return (torch.sign(x) * (x.abs() + low)).float().double()


def positive(*shape, low=0.5):
    """Values >= low (log and square-root inputs)."""
    return (randn(*shape).abs() + low).float().double()


def add_case(name, inputs, op, differentiable=None):
    """Records inputs, output, a cotangent and the input gradients of `op(*inputs)`."""
    differentiable = differentiable if differentiable is not None else [True] * len(inputs)
    leaves = [x.clone().requires_grad_(d) for x, d in zip(inputs, differentiable)]
    y = op(*leaves)
    for i, x in enumerate(inputs):
        tensors[f"{name}/x{i}"] = x.float().contiguous()
    tensors[f"{name}/y"] = y.detach().float().contiguous()
    if not any(differentiable):
        return
    dy = randn(*y.shape)
    wanted = [leaf for leaf, d in zip(leaves, differentiable) if d]
    grads = iter(torch.autograd.grad(y, wanted, dy))
    tensors[f"{name}/dy"] = dy.float().contiguous()
    for i, d in enumerate(differentiable):
        if d:
            tensors[f"{name}/dx{i}"] = next(grads).float().contiguous()


# MARK: Arithmetic: broadcasting binary ops, scalar operands, unary math

for op_name, op in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul)]:
    add_case(f"{op_name}_234_31", [randn(2, 3, 4), randn(3, 1)], op)
    add_case(f"{op_name}_214_131", [randn(2, 1, 4), randn(1, 3, 1)], op)
    add_case(f"{op_name}_same", [randn(3, 4), randn(3, 4)], op)
add_case("div_234_31", [randn(2, 3, 4), away_from_zero(3, 1)], torch.div)
add_case("div_214_131", [randn(2, 1, 4), away_from_zero(1, 3, 1)], torch.div)
add_case("div_same", [randn(3, 4), away_from_zero(3, 4)], torch.div)

add_case("scalar_add_right", [randn(3, 4)], lambda x: x + 2.5)
add_case("scalar_add_left", [randn(3, 4)], lambda x: 2.5 + x)
add_case("scalar_sub_right", [randn(3, 4)], lambda x: x - 1.5)
add_case("scalar_sub_left", [randn(3, 4)], lambda x: 1.5 - x)
add_case("scalar_mul_right", [randn(3, 4)], lambda x: x * 3.0)
add_case("scalar_mul_left", [randn(3, 4)], lambda x: 3.0 * x)
add_case("scalar_div_right", [randn(3, 4)], lambda x: x / 4.0)
add_case("scalar_div_left", [away_from_zero(3, 4)], lambda x: 4.0 / x)

add_case("neg", [randn(3, 5)], torch.neg)
add_case("exp", [randn(3, 5)], torch.exp)
add_case("log", [positive(3, 5)], torch.log)
add_case("sqrt", [positive(3, 5)], torch.sqrt)
add_case("square", [randn(3, 5)], torch.square)
add_case("sigmoid", [randn(3, 5, scale=3.0)], torch.sigmoid)
add_case("tanh", [randn(3, 5, scale=2.0)], torch.tanh)
add_case("silu", [randn(3, 5, scale=3.0)], F.silu)

# MARK: Linear algebra: matmul 2-D and batched with every transpose combination, linear


def matmul_case(name, batch, transpose_a, transpose_b, m=3, k=4, n=5):
    lead = [batch] if batch else []
    a = randn(*lead, *((k, m) if transpose_a else (m, k)))
    b = randn(*lead, *((n, k) if transpose_b else (k, n)))

    def op(a, b):
        return torch.matmul(a.transpose(-1, -2) if transpose_a else a, b.transpose(-1, -2) if transpose_b else b)

    add_case(name, [a, b], op)


for ta in (False, True):
    for tb in (False, True):
        suffix = f"{'T' if ta else 'N'}{'T' if tb else 'N'}"
        matmul_case(f"matmul_2d_{suffix}", None, ta, tb)
        matmul_case(f"matmul_batched_{suffix}", 2, ta, tb)

add_case("linear_bias", [randn(3, 4), randn(5, 4), randn(5)], F.linear)
add_case("linear_nobias", [randn(3, 4), randn(5, 4)], lambda x, w: F.linear(x, w))

# MARK: Convolution: kernel 1 and 3, stride 1 and 2, symmetric and TF-SAME padding, with and without bias


def conv_case(name, kernel, stride, padding, bias, size=(6, 6)):
    """padding: (top, bottom, left, right)."""
    x, w = randn(2, 3, *size), randn(4, 3, kernel, kernel, scale=0.5)
    inputs = [x, w] + ([randn(4)] if bias else [])
    top, bottom, left, right = padding

    def op(x, w, b=None):
        return F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride=stride)

    add_case(name, inputs, op)


conv_case("conv_k1_s1_p0_bias", 1, 1, (0, 0, 0, 0), True)
conv_case("conv_k1_s2_p0_nobias", 1, 2, (0, 0, 0, 0), False)
conv_case("conv_k3_s1_p0_bias", 3, 1, (0, 0, 0, 0), True)
conv_case("conv_k3_s1_p1_bias", 3, 1, (1, 1, 1, 1), True)
conv_case("conv_k3_s1_p1_nobias", 3, 1, (1, 1, 1, 1), False)
conv_case("conv_k3_s2_p1_bias", 3, 2, (1, 1, 1, 1), True)
conv_case("conv_k3_s2_p1_nobias_odd", 3, 2, (1, 1, 1, 1), False, size=(7, 5))
conv_case("conv_k3_s2_same_bias", 3, 2, (0, 1, 0, 1), True)
conv_case("conv_k3_s2_same_nobias", 3, 2, (0, 1, 0, 1), False)

add_case("upsample_nearest2x", [randn(2, 3, 3, 4)], lambda x: F.interpolate(x, scale_factor=2, mode="nearest"))

# MARK: Normalization: group norm (eps 1e-6), group norm + SiLU, softmax

add_case("group_norm_g3", [randn(2, 6, 3, 4, scale=2.0) + 1, randn(6), randn(6)],
         lambda x, g, b: F.group_norm(x, 3, g, b, eps=1e-6))
add_case("group_norm_g1", [randn(2, 4, 3, 3), randn(4), randn(4)], lambda x, g, b: F.group_norm(x, 1, g, b, eps=1e-6))
add_case("group_norm_rank3", [randn(2, 4, 5), randn(4), randn(4)], lambda x, g, b: F.group_norm(x, 2, g, b, eps=1e-6))
add_case("group_norm_noaffine", [randn(2, 4, 3, 3)], lambda x: F.group_norm(x, 2, eps=1e-6))
add_case("group_norm_silu", [randn(2, 6, 3, 4), randn(6), randn(6)],
         lambda x, g, b: F.silu(F.group_norm(x, 3, g, b, eps=1e-6)))
add_case("softmax_axis1", [randn(2, 3, 4, scale=2.0)], lambda x: torch.softmax(x, dim=1))
add_case("softmax_axis_last", [randn(2, 3, 4, scale=2.0)], lambda x: torch.softmax(x, dim=-1))
add_case("softmax_axis0", [randn(3, 4, scale=2.0)], lambda x: torch.softmax(x, dim=0))

# MARK: Shape: reshape, permute, transpose, broadcast, concatenate, slice

add_case("reshape", [randn(2, 3, 4)], lambda x: x.reshape(4, 6))
add_case("reshape_inferred", [randn(2, 3, 4)], lambda x: x.reshape(3, -1, 2))
add_case("permute_201", [randn(2, 3, 4)], lambda x: x.permute(2, 0, 1))
add_case("permute_0213", [randn(2, 3, 4, 2)], lambda x: x.permute(0, 2, 1, 3))
add_case("transpose", [randn(2, 3, 4)], lambda x: x.transpose(-1, -2))
add_case("broadcast_to", [randn(3, 1)], lambda x: x.broadcast_to(2, 3, 4))
add_case("concat_axis0", [randn(1, 3, 4), randn(2, 3, 4)], lambda a, b: torch.cat([a, b], dim=0))
add_case("concat_axis1", [randn(2, 3, 4), randn(2, 2, 4)], lambda a, b: torch.cat([a, b], dim=1))
add_case("concat_axis2_three", [randn(2, 3, 1), randn(2, 3, 2), randn(2, 3, 3)],
         lambda a, b, c: torch.cat([a, b, c], dim=2))
add_case("slice_axis1", [randn(2, 5, 3)], lambda x: x[:, 1:4])
add_case("slice_axis0", [randn(4, 3)], lambda x: x[2:3])
add_case("slice_axis2", [randn(2, 3, 6)], lambda x: x[:, :, 0:2])

# MARK: Reduction: sum and mean over axes (keepdim both ways), mean squared error

for keep in (False, True):
    tag = "keep" if keep else "drop"
    add_case(f"sum_axis1_{tag}", [randn(2, 3, 4)], lambda x, keep=keep: x.sum(dim=1, keepdim=keep))
    add_case(f"sum_axes02_{tag}", [randn(2, 3, 4)], lambda x, keep=keep: x.sum(dim=(0, 2), keepdim=keep))
    add_case(f"sum_axis_last_{tag}", [randn(2, 3, 4)], lambda x, keep=keep: x.sum(dim=-1, keepdim=keep))
    add_case(f"mean_axis1_{tag}", [randn(2, 3, 4)], lambda x, keep=keep: x.mean(dim=1, keepdim=keep))
    add_case(f"mean_axes02_{tag}", [randn(2, 3, 4)], lambda x, keep=keep: x.mean(dim=(0, 2), keepdim=keep))
add_case("sum_all", [randn(2, 3, 4)], lambda x: x.sum())
add_case("mean_all", [randn(2, 3, 4)], lambda x: x.mean())
add_case("mse", [randn(2, 3, 4), randn(2, 3, 4)], F.mse_loss)

# MARK: Timestep embedding (diffusers get_timestep_embedding, float32), no gradient


def timestep_embedding(t, dim, freq_shift, flip, max_period=10000):
    """half = dim // 2; exponent = -ln(max_period) * arange(half) / (half - freq_shift);
    emb = t[:, None] * exp(exponent)[None]; emb = cat(sin(emb), cos(emb)); flip -> cat(cos, sin)."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half, dtype=torch.float32)
    exponent = exponent / (half - freq_shift)
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return emb


timesteps = torch.tensor([0, 1, 17, 500, 999], dtype=torch.int64)
for shift in (1, 0):
    for flip in (False, True):
        name = f"timestep_embedding_shift{shift}_{'cosfirst' if flip else 'sinfirst'}"
        tensors[f"{name}/x0"] = timesteps.clone()
        tensors[f"{name}/y"] = timestep_embedding(timesteps, 32, shift, flip)

metadata = {"torch": torch.__version__, "seed": str(SEED), "script": "scripts/reference/make_op_fixtures.py"}
save_file(tensors, OUTPUT, metadata=metadata)
print(f"wrote {len(tensors)} tensors, {os.path.getsize(OUTPUT)} bytes to {os.path.normpath(OUTPUT)}")
