#!/usr/bin/env python3
"""Writes end-to-end parity fixtures from diffusers into Tests/PipelinesTests/Fixtures/, for
Tests/PipelinesTests/DiffusersParityTests.swift.

    /work/venv/bin/pip install torch diffusers safetensors
    /work/venv/bin/python scripts/reference/make_pipeline_fixtures.py

It writes
  tiny-ddpm/       a random-init UNet2DModel in the DDPM block layout (3 channels, 16x16, three
                   levels, two res blocks each, single-head attention at 8x8, the original code's
                   embedding: flip_sin_to_cos False, freq_shift 1, downsample_padding 0, eps 1e-6)
                   saved by `save_pretrained` as config.json + diffusion_pytorch_model.safetensors,
                   with a DDPMScheduler scheduler_config.json (clip_sample False, fixed_large)
  tiny-ddpm-bin/   the same model saved with safe_serialization=False (torch.save .bin)
  pipeline.safetensors
    ddim.xT, ddim.sample        (a) 20-step DDIM, eta 0, clip_sample False, leading spacing,
                                    set_alpha_to_one, end to end (DDIMPipeline's loop; checked
                                    against DDIMPipeline's own output below)
    ddim_clip.timesteps         (b) 5-step DDIM with clip_sample True: the states x_t visited by
    ddim_clip.states                diffusers' default (use_clipped_model_output=None: x̂₀ clipped,
    ddim_clip.model_outputs         the unclipped ε̂ kept), [S+1, ...]; the network output at each;
    ddim_clip.prev_recomputed       and the step from each stored x_t with use_clipped_model_output=True
    ddpm.*                      (c) one DDPMScheduler step (clip_sample True) at timesteps 500 and 0
                                    from a given x_t with given noise (ddpm.noise, zero at 0), the
                                    network outputs, and the results for fixed_small and fixed_large

Timesteps stored are diffusers' 0-based model timesteps; paper t = timestep + 1. Everything runs
on one CPU thread in float32.
"""
import json
import os
import shutil

import diffusers
import numpy as np
import safetensors
import torch
from diffusers import DDIMPipeline, DDIMScheduler, DDPMScheduler, UNet2DModel
from safetensors.torch import save_file

torch.set_num_threads(1)
OUT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "PipelinesTests", "Fixtures"))
SEED = 20240601

CONFIG = dict(sample_size=16, in_channels=3, out_channels=3, block_out_channels=(8, 16, 16),
              down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
              up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), layers_per_block=2, norm_num_groups=4,
              norm_eps=1e-6, downsample_padding=0, flip_sin_to_cos=False, freq_shift=1, attention_head_dim=None,
              dropout=0.0)

torch.manual_seed(SEED)
unet = UNet2DModel(**CONFIG)
with torch.no_grad():  # torch's default GroupNorm init is (1, 0); perturb it so loading is really checked
    for k, p in unet.named_parameters():
        if "norm" in k:
            p.add_(0.1 * torch.randn_like(p))
unet.eval()

scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", variance_type="fixed_large", clip_sample=False)
for name, safe in [("tiny-ddpm", True), ("tiny-ddpm-bin", False)]:
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    unet.save_pretrained(path, safe_serialization=safe)
    scheduler.save_config(path)
out = {}


def randn(seed, shape):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)


@torch.no_grad()
def eps(x, t):
    return unet(x, t).sample


# (a) DDIM, 20 steps, clip off, end to end: exactly DDIMPipeline.__call__'s loop, without its final
# (x / 2 + 0.5).clamp(0, 1), so the raw sample is compared.
shape = (2, 3, 16, 16)
ddim = DDIMScheduler.from_config(scheduler.config)
ddim.set_timesteps(20)
x_t = randn(SEED + 1, shape)
x = x_t.clone()
for t in ddim.timesteps:
    x = ddim.step(eps(x, t), t, x, eta=0.0, use_clipped_model_output=None).prev_sample
out["ddim.xT"], out["ddim.sample"], out["ddim.timesteps"] = x_t, x, ddim.timesteps.float()
pipe = DDIMPipeline(unet=unet, scheduler=DDIMScheduler.from_config(scheduler.config))
pipe.set_progress_bar_config(disable=True)
images = pipe(batch_size=2, generator=torch.Generator().manual_seed(SEED + 1), num_inference_steps=20, eta=0.0,
              output_type="np").images
assert np.abs(images - (x / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()).max() < 1e-6, "loop differs from DDIMPipeline"

# (b) DDIM, 5 steps (few, to keep the fixtures under 1 MB), clip on: states of diffusers' default run, network outputs, and the
# recomputed-ε̂ variant from the same states.
ddim = DDIMScheduler.from_config(scheduler.config, clip_sample=True)
ddim.set_timesteps(5)
x = randn(SEED + 2, (1, 3, 16, 16))
states, outputs, recomputed = [x], [], []
for t in ddim.timesteps:
    e = eps(x, t)
    outputs.append(e)
    recomputed.append(ddim.step(e, t, x, eta=0.0, use_clipped_model_output=True).prev_sample)
    x = ddim.step(e, t, x, eta=0.0, use_clipped_model_output=None).prev_sample
    states.append(x)
out["ddim_clip.timesteps"] = ddim.timesteps.float()
out["ddim_clip.states"], out["ddim_clip.model_outputs"] = torch.stack(states), torch.stack(outputs)
out["ddim_clip.prev_recomputed"] = torch.stack(recomputed)

# (c) One ancestral DDPMScheduler step (the google/ddpm-* default clip_sample True) at two timesteps.
x = randn(SEED + 3, (1, 3, 16, 16))
timesteps = [500, 0]
out["ddpm.xt"], out["ddpm.timesteps"] = x, torch.tensor(timesteps, dtype=torch.float32)
out["ddpm.model_outputs"] = torch.stack([eps(x, torch.tensor(t)) for t in timesteps])
out["ddpm.noise"] = torch.stack([randn(SEED + 10 + i, x.shape) if t > 0 else torch.zeros(x.shape)
                                 for i, t in enumerate(timesteps)])
for variance in ["fixed_small", "fixed_large"]:
    s = DDPMScheduler.from_config(scheduler.config, variance_type=variance, clip_sample=True)
    out[f"ddpm.{variance}.prev"] = torch.stack([
        s.step(out["ddpm.model_outputs"][i], t, x, generator=torch.Generator().manual_seed(SEED + 10 + i)).prev_sample
        for i, t in enumerate(timesteps)])

out = {k: v.detach().float().contiguous() for k, v in out.items()}
save_file(out, os.path.join(OUT, "pipeline.safetensors"), metadata={
    "generator": "scripts/reference/make_pipeline_fixtures.py", "seed": str(SEED),
    "diffusers": diffusers.__version__, "torch": torch.__version__, "safetensors": safetensors.__version__,
    "config": json.dumps(CONFIG), "parameters": str(sum(p.numel() for p in unet.parameters())),
    "convention": "timesteps are diffusers' 0-based model timesteps; paper t = timestep + 1",
})
total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
print(f"{sum(p.numel() for p in unet.parameters())} parameters; fixtures {total} bytes in {OUT}")
