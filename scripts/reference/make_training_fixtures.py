#!/usr/bin/env python3
"""Writes the 10-step training-parity fixture Tests/PipelinesTests/Fixtures/training.safetensors
for Tests/PipelinesTests/TrainingParityTests.swift: diffusers' UNet2DModel trained with
torch.optim.Adam on fixed data, t and eps, with this project's recipe spelled out by hand.

    /work/venv/bin/python scripts/reference/make_training_fixtures.py

The network is the tiny8-grey preset (UNetConfiguration.tiny8Grey: 8x8 grey, channels (8, 16),
attention at 4x4, 4 groups) with dropout 0, because dropout masks cannot be shared between the
two frameworks. The recipe, each piece as swift-ddpm's Trainer does it:
  - L_simple: t ~ U{1..T} (paper t; the network sees t - 1), x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps,
    loss = mean((eps_theta(x_t, t - 1) - eps)^2), abar in float64 from the linear 1e-4..0.02 schedule.
  - gradient accumulation: K micro-batches, gradients summed then divided by K; the step's loss is
    the mean of the K micro-batch losses.
  - global-norm clip as tf.clip_by_global_norm: factor = max / ||g|| when ||g|| > max, else 1 (torch's
    clip_grad_norm_ adds 1e-6 to the norm, so it is not used).
  - Adam (torch.optim.Adam, betas (0.9, 0.999), eps 1e-8, no weight decay) with a linear warm-up:
    lr at step s (1-based) = base * min(1, s / warmup).
  - EMA started as a copy of the initial weights, decay at update u (0-based) = min(decay, (1 + u) / (10 + u)),
    avg = d avg + (1 - d) p.
The same run in float64 measures float32's own reproducibility (metadata float32_vs_float64).
It stores the initial weights (init.*), the inputs of every micro-batch (x0, t, noise, [S, K, B/K, ...]),
the loss and gradient norm of every step, and the final raw (final.*) and EMA (ema.*) weights.
Everything runs on one CPU thread in float32.
"""
import json
import os

import diffusers
import safetensors
import torch
from diffusers import UNet2DModel
from safetensors.torch import save_file

torch.set_num_threads(1)
OUT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "PipelinesTests", "Fixtures"))
SEED = 20261201
CONFIG = dict(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
              down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
              layers_per_block=2, norm_num_groups=4, norm_eps=1e-6, downsample_padding=0, flip_sin_to_cos=False,
              freq_shift=1, attention_head_dim=None, dropout=0.0)
RECIPE = dict(steps=10, batch_size=8, accumulation=2, learning_rate=1e-3, warmup_steps=4, gradient_clip=2.0,
              ema_decay=0.99, ema_warmup=True, adam_betas=(0.9, 0.999), adam_eps=1e-8, timesteps=1000)

torch.manual_seed(SEED)
unet = UNet2DModel(**CONFIG)
with torch.no_grad():  # GroupNorm starts at (1, 0); perturb it so its gradients are really compared
    for k, p in unet.named_parameters():
        if "norm" in k:
            p.add_(0.1 * torch.randn_like(p))
init = {k: p.detach().clone() for k, p in unet.named_parameters()}
out = {f"init.{k}": v for k, v in init.items()}

S, K = RECIPE["steps"], RECIPE["accumulation"]
micro = RECIPE["batch_size"] // K
gen = torch.Generator().manual_seed(SEED + 1)
x0 = torch.rand((S, K, micro, 1, 8, 8), generator=gen) * 2 - 1
t = torch.randint(1, RECIPE["timesteps"] + 1, (S, K, micro), generator=gen)
noise = torch.randn((S, K, micro, 1, 8, 8), generator=gen)


def train(dtype):
    """The recipe from `init` on (x0, t, noise) in `dtype`: losses, norms, clip factors, final and EMA weights."""
    net = UNet2DModel(**CONFIG).to(dtype)
    net.load_state_dict({k: v.to(dtype) for k, v in init.items()})
    net.train()
    params = dict(net.named_parameters())
    alpha_bar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, RECIPE["timesteps"], dtype=torch.float64), dim=0)
    adam = torch.optim.Adam(net.parameters(), lr=RECIPE["learning_rate"], betas=RECIPE["adam_betas"], eps=RECIPE["adam_eps"],
                            weight_decay=0)
    ema = {k: p.detach().clone() for k, p in params.items()}
    losses, norms, factors = [], [], []
    for s in range(S):
        loss_sum, grads = 0.0, None
        for k in range(K):
            a = alpha_bar[t[s, k] - 1].view(-1, 1, 1, 1)
            xt = a.sqrt().to(dtype) * x0[s, k].to(dtype) + (1 - a).sqrt().to(dtype) * noise[s, k].to(dtype)
            loss = ((net(xt, t[s, k] - 1).sample - noise[s, k].to(dtype)) ** 2).mean()
            g = torch.autograd.grad(loss, list(params.values()))
            grads = list(g) if grads is None else [x + y for x, y in zip(grads, g)]
            loss_sum += loss.item()
        grads = [g / K for g in grads] if K > 1 else grads
        norm = float(sum(g.double().pow(2).sum() for g in grads).sqrt())
        factor = RECIPE["gradient_clip"] / norm if norm > RECIPE["gradient_clip"] else 1.0
        for p, g in zip(params.values(), grads):
            p.grad = g * torch.tensor(factor, dtype=dtype)
        for group in adam.param_groups:
            group["lr"] = RECIPE["learning_rate"] * min(1.0, (s + 1) / RECIPE["warmup_steps"])
        adam.step()
        d = min(RECIPE["ema_decay"], (1 + s) / (10 + s)) if RECIPE["ema_warmup"] else RECIPE["ema_decay"]
        with torch.no_grad():
            for k, p in params.items():
                ema[k] = torch.tensor(d, dtype=dtype) * ema[k] + torch.tensor(1 - d, dtype=dtype) * p
        losses.append(loss_sum / K)
        norms.append(norm)
        factors.append(factor)
    return losses, norms, factors, {k: p.detach().clone() for k, p in params.items()}, ema


losses, norms, factors, final, ema = train(torch.float32)
# How far PyTorch's own float32 run is from float64 with the same inputs: the floor of any float32
# parity. Attention key biases are left out (their gradient is zero in exact arithmetic, so their
# Adam steps are rounding noise), as the Swift test leaves them out.
_, _, _, final64, _ = train(torch.float64)
kept = [k for k in final if not k.endswith(".to_k.bias")]
worst = max(kept, key=lambda k: float((final[k].double() - final64[k]).abs().max() / final64[k].abs().max()))
floor = dict(worst_tensor=float((final[worst].double() - final64[worst]).abs().max() / final64[worst].abs().max()), key=worst,
             whole_network=max(float((final[k].double() - final64[k]).abs().max()) for k in kept)
             / max(float(final64[k].abs().max()) for k in kept))
assert any(f < 1 for f in factors) and any(f == 1 for f in factors), f"the clip should act on some steps only: {factors}"
out.update({f"final.{k}": v for k, v in final.items()})
out.update({f"ema.{k}": v for k, v in ema.items()})
out.update({"x0": x0, "timesteps": t.float(), "noise": noise, "losses": torch.tensor(losses),
            "gradient_norms": torch.tensor(norms)})
out = {k: v.detach().float().contiguous() for k, v in out.items()}
path = os.path.join(OUT, "training.safetensors")
save_file(out, path, metadata={
    "generator": "scripts/reference/make_training_fixtures.py", "seed": str(SEED), "config": json.dumps(CONFIG),
    "recipe": json.dumps(RECIPE), "float32_vs_float64": json.dumps(floor), "diffusers": diffusers.__version__, "torch": torch.__version__,
    "safetensors": safetensors.__version__,
    "convention": "timesteps are paper t in 1...T; the network is called with t - 1",
})
print(f"{sum(p.numel() for p in final.values())} parameters; float32 vs float64 {floor}; losses {losses}; norms {norms}; "
      f"{os.path.getsize(path)} bytes in {path}")
