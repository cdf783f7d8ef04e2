"""Writes Tests/DiffusionTests/Fixtures/schedulers.safetensors from diffusers' DDPMScheduler and
DDIMScheduler, for the parity tests in Tests/DiffusionTests/SchedulerParityTests.swift.

    /work/venv/bin/pip install torch diffusers safetensors
    python scripts/reference/make_diffusion_fixtures.py

Timesteps in this file are diffusers' (0-based model) timesteps; paper t = timestep + 1.
Next to each diffusers step output we store the same formula evaluated in float64 numpy
("*.f64"), because diffusers forms 1 - alphaBar_t / alphaBar_{t-1} in float32 and loses up to
~2e-4 relative precision near t = 1.
"""
import os
import numpy as np
import torch
import diffusers
import safetensors
from diffusers import DDPMScheduler, DDIMScheduler
from safetensors.numpy import save_file

T = 1000
SHAPE = (2, 1, 4, 4)
DDPM_TIMESTEPS = [999, 500, 10, 2, 1, 0]
out = {}


def f32(x):
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


def randn(seed, shape=SHAPE):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float32)


# 1. Schedules.
for name, kind in [("linear", "linear"), ("cosine", "squaredcos_cap_v2")]:
    s = DDPMScheduler(num_train_timesteps=T, beta_schedule=kind)
    out[f"schedule.{name}.betas"] = f32(s.betas)
    out[f"schedule.{name}.alphas_cumprod"] = f32(s.alphas_cumprod)

betas64 = np.linspace(1e-4, 0.02, T, dtype=np.float64)
alphas_cumprod64 = np.cumprod(1 - betas64)

# 2. add_noise (eq. 4).
s = DDPMScheduler(num_train_timesteps=T)
x0, noise = randn(1, (4, 1, 4, 4)), randn(2, (4, 1, 4, 4))
ts = torch.tensor([0, 1, 500, 999])
out["add_noise.x0"], out["add_noise.noise"] = f32(x0), f32(noise)
out["add_noise.timesteps"] = f32(ts)
out["add_noise.noisy"] = f32(s.add_noise(x0, noise, ts))


def ddpm_step_f64(eps, x, t, prev_t, variance, clip, z):
    ab_t = alphas_cumprod64[t]
    ab_prev = alphas_cumprod64[prev_t] if prev_t >= 0 else 1.0
    beta_t = 1 - ab_t / ab_prev
    x0 = (x - np.sqrt(1 - ab_t) * eps) / np.sqrt(ab_t)
    if clip:
        x0 = np.clip(x0, -1, 1)
    mean = np.sqrt(ab_prev) * beta_t / (1 - ab_t) * x0 + np.sqrt(1 - beta_t) * (1 - ab_prev) / (1 - ab_t) * x
    var = beta_t if variance == "fixed_large" else max((1 - ab_prev) / (1 - ab_t) * beta_t, 1e-20)
    return mean + (np.sqrt(var) * z if t > 0 else 0), x0


# 3. DDPMScheduler.step, full chain of 1000 steps, at several t.
sample, eps = randn(3), randn(4)
out["ddpm.sample"], out["ddpm.model_output"] = f32(sample), f32(eps)
out["ddpm.timesteps"] = f32(DDPM_TIMESTEPS)
for variance in ["fixed_small", "fixed_large"]:
    for clip in [False, True]:
        s = DDPMScheduler(num_train_timesteps=T, variance_type=variance, clip_sample=clip)
        prev, x0s, zs, prev64, x064 = [], [], [], [], []
        for i, t in enumerate(DDPM_TIMESTEPS):
            seed = 100 + i
            r = s.step(eps, t, sample, generator=torch.Generator().manual_seed(seed))
            z = randn(seed) if t > 0 else torch.zeros(SHAPE)
            prev.append(r.prev_sample.numpy()); x0s.append(r.pred_original_sample.numpy()); zs.append(z.numpy())
            p64, x64 = ddpm_step_f64(eps.double().numpy(), sample.double().numpy(), t, t - 1, variance, clip, z.double().numpy())
            prev64.append(p64); x064.append(x64)
        key = f"ddpm.{variance}.{'clip' if clip else 'noclip'}"
        out[key + ".prev"], out[key + ".x0"], out[key + ".noise"] = f32(prev), f32(x0s), f32(zs)
        out[key + ".prev.f64"], out[key + ".x0.f64"] = f32(prev64), f32(x064)

# 4. Strided DDPM after diffusers PR #2076: 10 steps, leading spacing, fixed_small, no clipping.
s = DDPMScheduler(num_train_timesteps=T, clip_sample=False)
s.set_timesteps(10)
strided_ts = [int(t) for t in s.timesteps]
prev, zs, prev64 = [], [], []
for i, t in enumerate(strided_ts):
    seed = 200 + i
    r = s.step(eps, t, sample, generator=torch.Generator().manual_seed(seed))
    z = randn(seed) if t > 0 else torch.zeros(SHAPE)
    prev.append(r.prev_sample.numpy()); zs.append(z.numpy())
    p64, _ = ddpm_step_f64(eps.double().numpy(), sample.double().numpy(), t, t - T // 10, "fixed_small", False, z.double().numpy())
    prev64.append(p64)
out["ddpm_strided.timesteps"] = f32(strided_ts)
out["ddpm_strided.prev"], out["ddpm_strided.noise"], out["ddpm_strided.prev.f64"] = f32(prev), f32(zs), f32(prev64)

# 5. DDIMScheduler.step (Song et al. eq. 12) for eta 0 and 1, leading and trailing spacing.
# "clip": clip_sample with use_clipped_model_output=True (ε̂ recomputed from the clipped x̂₀);
# "clipkeep": clip_sample with DDIMPipeline's default use_clipped_model_output=None (ε̂ kept).
for spacing in ["leading", "trailing"]:
    for eta in [0.0, 1.0]:
        for clip in ["noclip", "clip", "clipkeep"]:
            for alpha_one in [True, False]:
                s = DDIMScheduler(num_train_timesteps=T, clip_sample=clip != "noclip", set_alpha_to_one=alpha_one,
                                  timestep_spacing=spacing)
                s.set_timesteps(10)
                prev, x0s, zs = [], [], []
                for i, t in enumerate(s.timesteps):
                    z = randn(300 + i)
                    r = s.step(eps, int(t), sample, eta=eta, use_clipped_model_output=True if clip == "clip" else None,
                               variance_noise=z)
                    prev.append(r.prev_sample.numpy()); x0s.append(r.pred_original_sample.numpy()); zs.append(z.numpy())
                key = f"ddim.{spacing}.eta{int(eta)}.{clip}.{'alphaone' if alpha_one else 'alphafirst'}"
                out[key + ".timesteps"] = f32(s.timesteps)
                out[key + ".prev"], out[key + ".x0"], out[key + ".noise"] = f32(prev), f32(x0s), f32(zs)

# 6. set_timesteps for each spacing.
for spacing in ["leading", "linspace", "trailing"]:
    for n in [1, 7, 10, 50, 1000]:
        s = DDIMScheduler(num_train_timesteps=T, timestep_spacing=spacing)
        s.set_timesteps(n)
        out[f"timesteps.ddim.{spacing}.{n}"] = f32(s.timesteps)
        s = DDPMScheduler(num_train_timesteps=T, timestep_spacing=spacing)
        s.set_timesteps(n)
        out[f"timesteps.ddpm.{spacing}.{n}"] = f32(s.timesteps)

path = os.path.join(os.path.dirname(__file__), "../../Tests/DiffusionTests/Fixtures/schedulers.safetensors")
save_file(out, os.path.normpath(path), metadata={
    "generator": "scripts/reference/make_diffusion_fixtures.py",
    "diffusers": diffusers.__version__, "torch": torch.__version__, "numpy": np.__version__,
    "safetensors": safetensors.__version__,
    "convention": "timesteps are diffusers' 0-based model timesteps; paper t = timestep + 1",
})
print(len(out), "tensors,", os.path.getsize(path), "bytes")
