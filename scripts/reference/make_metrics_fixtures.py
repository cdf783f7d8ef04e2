#!/usr/bin/env python3
"""Writes Tests/MetricsTests/Fixtures/: pytorch-fid references for the Metrics module.

  metrics.safetensors   pooling / resize / ReLU cases (name/x, name/y); each Inception block type
                        (block_<T>/x, block_<T>/y); the whole FID Inception-v3 (inception/x in
                        [-1, 1], inception/pool, inception/logits, plus the float32 run as
                        inception/pool_f32, inception/logits_f32); Frechet distance cases
                        (fid_<case>/a, fid_<case>/b: features); Inception Score logits (is_<case>/logits).
                        Expected scalars are in __metadata__ as repr() of float64.
  inception_keys.json   [key, shape] of every tensor in pt_inception-2015-12-05-6726825d.pth's state dict,
                        as pytorch-fid's fid_inception_v3() builds it (num_batches_tracked excluded).
  stats_a.npz           numpy.savez(mu, sigma) of fid_full/a, C order, float64.
  stats_b_compressed.npz numpy.savez_compressed of fid_full/b with sigma in Fortran order, plus a
                        float32 array 'f32'.

Weights are not stored: every parameter is a pure function of its state-dict key and element index
(SplitMix64 over the FNV-1a hash of the key), which Tests/MetricsTests/HashedWeights.swift computes
bit for bit in Swift. So the full 24M-parameter network is tested end to end with a small fixture.
The reference runs in float64 (the exact answer for these weights and inputs); the float32 run shows
how far PyTorch's own float32 result is from it.

Usage: /work/venv/bin/pip install pytorch-fid scipy
       /work/venv/bin/python scripts/reference/make_metrics_fixtures.py   (from the package root)
"""
import json
import math
import os
from unittest import mock

import numpy as np
import pytorch_fid
import scipy
import torch
import torch.nn.functional as F
import torchvision
from pytorch_fid import inception as pfi
from pytorch_fid.fid_score import calculate_frechet_distance
from safetensors.torch import save_file

SEED = 20171205
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "MetricsTests", "Fixtures")
MASK = (1 << 64) - 1
generator = torch.Generator().manual_seed(SEED)
tensors, metadata = {}, {}


# --- weights as a function of key and index --------------------------------------------------------

def fnv1a(key):
    h = 0xCBF29CE484222325
    for b in key.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def symmetric_unit(key, count):
    """2u - 1 in [-1, 1), u = top 24 bits of SplitMix64(fnv1a(key) + (i + 1) * golden), exact in float32."""
    i = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(fnv1a(key)) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    k = (z >> np.uint64(40)).astype(np.int64)
    return (2 * k - (1 << 24)).astype(np.float32) / np.float32(1 << 24)


def hashed_value(key, shape):
    """The rule HashedWeights.swift mirrors: He-uniform convolutions, near-identity batch norm."""
    v = symmetric_unit(key, int(np.prod(shape)))
    if key.endswith("running_var") or key.endswith("bn.weight"):
        v = np.float32(1) + np.float32(0.25) * v
    elif key.endswith("bias") or key.endswith("running_mean"):
        v = np.float32(0.125) * v
    else:  # conv [Cout, Cin, kh, kw] (gain sqrt(2) for ReLU) or dense [out, in]
        fan_in = int(np.prod(shape[1:]))
        v = v * np.float32(math.sqrt((6.0 if len(shape) == 4 else 3.0) / fan_in))
    return torch.from_numpy(v.reshape(shape))


@torch.no_grad()
def fill_hashed(module):
    for key, t in module.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            t.copy_(hashed_value(key, tuple(t.shape)))
    return module.eval()


# --- ops ------------------------------------------------------------------------------------------

def rand(*shape, low=-1.0, high=1.0):
    return (torch.rand(shape, generator=generator, dtype=torch.float64) * (high - low) + low).float()


def add_op(name, x, op):
    tensors[f"{name}/x"] = x.contiguous()
    tensors[f"{name}/y"] = op(x.double()).float().contiguous()


add_op("maxpool_k3s2", rand(2, 3, 9, 10), lambda x: F.max_pool2d(x, 3, stride=2))
add_op("maxpool_k3s1p1", rand(2, 3, 6, 5), lambda x: F.max_pool2d(x, 3, stride=1, padding=1))
add_op("avgpool_k3s1p1_exclude", rand(2, 3, 6, 5), lambda x: F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
add_op("avgpool_k3s1p1_include", rand(2, 3, 6, 5), lambda x: F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True))
add_op("avgpool_k3s2", rand(1, 2, 9, 8), lambda x: F.avg_pool2d(x, 3, stride=2, count_include_pad=False))
add_op("global_avgpool", rand(2, 5, 8, 8), lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1))
add_op("resize_up_13x11", rand(2, 3, 5, 7), lambda x: F.interpolate(x, size=(13, 11), mode="bilinear", align_corners=False))
add_op("resize_down_6x7", rand(1, 2, 17, 19), lambda x: F.interpolate(x, size=(6, 7), mode="bilinear", align_corners=False))
add_op("resize_299", rand(1, 1, 7, 7), lambda x: F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False))
add_op("relu", rand(3, 7), F.relu)

# --- Inception blocks on small inputs (pytorch-fid's FID blocks, torchvision's B and D) -----------

blocks = {
    "A": (pfi.FIDInceptionA(8, pool_features=4), (2, 8, 5, 5)),
    "B": (torchvision.models.inception.InceptionB(8), (2, 8, 7, 7)),
    "C": (pfi.FIDInceptionC(8, channels_7x7=4), (2, 8, 5, 5)),
    "D": (torchvision.models.inception.InceptionD(8), (2, 8, 7, 7)),
    "E_1": (pfi.FIDInceptionE_1(8), (1, 8, 4, 4)),
    "E_2": (pfi.FIDInceptionE_2(8), (1, 8, 4, 4)),
}
for name, (block, shape) in blocks.items():
    fill_hashed(block)
    x = rand(*shape, low=0.0, high=2.0)  # post-ReLU activations
    tensors[f"block_{name}/x"] = x
    with torch.no_grad():
        tensors[f"block_{name}/y"] = block.double()(x.double()).float()

# --- the whole network ----------------------------------------------------------------------------

captured = {}


def capture_instead_of_loading(self, state_dict, strict=True):
    captured["net"] = self


with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: {}), \
        mock.patch.object(torchvision.models.inception.Inception3, "load_state_dict", capture_instead_of_loading):
    fid_model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])  # resize + [0,1] -> [-1,1]
net = fill_hashed(captured["net"])  # the Inception3 whose state dict is the .pth's
fid_model.eval()
keys = [[k, list(t.shape)] for k, t in net.state_dict().items() if not k.endswith("num_batches_tracked")]
with open(os.path.join(OUT, "inception_keys.json"), "w") as f:
    json.dump(keys, f, indent=0)

x = rand(2, 3, 32, 32)  # [-1, 1], as DDPM samples
tensors["inception/x"] = x
with torch.no_grad():
    for suffix, dtype in (("", torch.float64), ("_f32", torch.float32)):
        model, fc = fid_model.to(dtype), net.fc.to(dtype)
        pool = model(((x.to(dtype) + 1) / 2))[0].flatten(1)  # pytorch-fid takes [0, 1]
        tensors[f"inception/pool{suffix}"] = pool.float()
        tensors[f"inception/logits{suffix}"] = fc(pool).float()

# --- Frechet distance and Inception Score ---------------------------------------------------------

def features(n, d, shift=0.0):
    mixing = torch.randn((d, d), generator=generator, dtype=torch.float64) / math.sqrt(d)
    z = torch.randn((n, d), generator=generator, dtype=torch.float64)
    return (torch.relu(z @ mixing) + shift).float()  # nonnegative, correlated, like pool features


def statistics(a):
    a = a.double().numpy()
    return np.mean(a, axis=0), np.cov(a, rowvar=False)  # pytorch-fid's calculate_activation_statistics


fid_cases = {
    "full": (features(500, 64), features(400, 64, shift=0.05)),          # N > D: full rank
    "rank_deficient": (features(40, 64), features(50, 64)),               # N < D: singular covariances
    "large_mean": (features(300, 16, shift=100.0), features(300, 16, shift=100.2)),
    "identical": (features(200, 8), None),
}
for name, (a, b) in fid_cases.items():
    b = a.clone() if b is None else b
    tensors[f"fid_{name}/a"], tensors[f"fid_{name}/b"] = a, b
    (m1, s1), (m2, s2) = statistics(a), statistics(b)
    metadata[f"fid_{name}"] = repr(float(calculate_frechet_distance(m1, s1, m2, s2)))
mu_a, sigma_a = statistics(fid_cases["full"][0])
mu_b, sigma_b = statistics(fid_cases["full"][1])
np.savez(os.path.join(OUT, "stats_a.npz"), mu=mu_a, sigma=sigma_a)
np.savez_compressed(os.path.join(OUT, "stats_b_compressed.npz"), mu=mu_b, sigma=np.asfortranarray(sigma_b),
                    f32=np.arange(6, dtype="<f4").reshape(2, 3))


def inception_score(logits, splits=10):
    """OpenAI improved-GAN inception_score, from float32 logits in float64 with scipy's softmax."""
    p = scipy.special.softmax(logits.double().numpy(), axis=1)
    n, scores = p.shape[0], []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        kl = part * (np.log(part) - np.log(np.mean(part, axis=0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


for name, (n, classes, scale) in {"1008": (50, 1008, 3.0), "uneven": (37, 20, 1.5)}.items():
    logits = (torch.randn((n, classes), generator=generator, dtype=torch.float64) * scale).float()
    tensors[f"is_{name}/logits"] = logits
    metadata[f"is_{name}"] = json.dumps(inception_score(logits))

metadata.update(seed=str(SEED), torch=torch.__version__, torchvision=torchvision.__version__,
                numpy=np.__version__, scipy=scipy.__version__,
                pytorch_fid=getattr(pytorch_fid, "__version__", "unknown"))
save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "metrics.safetensors"), metadata=metadata)
print("wrote", OUT, "-", len(tensors), "tensors,", len(keys), "inception keys")
for name in fid_cases:
    print(f"fid_{name}", metadata[f"fid_{name}"])
pool, pool32 = tensors["inception/pool"], tensors["inception/pool_f32"]
print("torch float32 vs float64 pool: max rel", float(((pool32 - pool).abs().max() / pool.abs().max())))
print("pool mean/std", float(pool.mean()), float(pool.std()), "logits std", float(tensors["inception/logits"].std()))
