"""Writes Tests/DiffusionTests/Fixtures/euler.safetensors from diffusers' EulerDiscreteScheduler,
EulerAncestralDiscreteScheduler and HeunDiscreteScheduler, for Tests/DiffusionTests/EulerTests.swift
and HeunTests.swift.

    /work/venv/bin/python scripts/reference/make_euler_fixtures.py

Every configuration runs diffusers' whole denoising loop (scale_model_input, model, step) on the
paper's schedule (linear β from 1e-4 to 0.02, T = 1000) with a deterministic model: the exact
noise predictor for data x0 ~ N(0.3, 0.5²) per pixel at the scheduler's noise level, plus a small
smooth perturbation, converted to the configuration's prediction type. Per evaluation i it stores
the input sample, scale_model_input's output, the model output, the noise step() drew (zeros when
none), prev_sample and pred_original_sample, stacked as `<key>.<field>` [K, 2, 1, 4, 4]; and
`<key>.timesteps`, `<key>.sigmas`, `<key>.init_noise_sigma`. Timesteps are diffusers' 0-based
model timesteps (fractional for linspace spacing and Karras/exponential sigmas).

diffusers computes the schedule in float32 (cumprod of float32 betas; 1 - alphas_cumprod[0] keeps
only ~3 digits), so its sigmas differ from the float64 schedule's by up to ~8e-5 relative at t = 0.
`schedule.alphas_cumprod` stores diffusers' values; the Swift tests build their schedule from them.
"""
import os
import numpy as np
import torch
import diffusers
import safetensors
import diffusers.schedulers.scheduling_euler_discrete as euler_module
import diffusers.schedulers.scheduling_euler_ancestral_discrete as ancestral_module
from diffusers import EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, HeunDiscreteScheduler
from safetensors.numpy import save_file

T = 1000
SHAPE = (2, 1, 4, 4)
MU, S = 0.3, 0.5
COMMON = dict(num_train_timesteps=T, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")
out = {}

betas64 = np.linspace(1e-4, 0.02, T, dtype=np.float64)
sigmas64 = np.sqrt((1 - np.cumprod(1 - betas64)) / np.cumprod(1 - betas64))


def f32(x):
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


# Noise drawn inside step(): recorded from diffusers' own randn_tensor calls.
drawn = []


def recording(original):
    def randn_tensor(*args, **kwargs):
        z = original(*args, **kwargs)
        drawn.append(z.clone())
        return z
    return randn_tensor


euler_module.randn_tensor = recording(euler_module.randn_tensor)
ancestral_module.randn_tensor = recording(ancestral_module.randn_tensor)


def model(x_in, t, prediction, continuous):
    """Exact ε̂ at the noise level of model timestep t (σ by np.interp, or exp(4t) for continuous
    timesteps), perturbed by 0.05·sin(3x + t/200), as epsilon / sample / v_prediction output."""
    t = float(t)
    sigma = np.exp(4 * t) if continuous else float(np.interp(t, np.arange(T), sigmas64))
    alpha_bar = 1 / (1 + sigma ** 2)
    x = x_in.double()
    eps = (x - np.sqrt(alpha_bar) * MU) * np.sqrt(1 - alpha_bar) / (alpha_bar * S * S + 1 - alpha_bar)
    eps = eps + 0.05 * torch.sin(3 * x + t / 200)
    x0 = (x - np.sqrt(1 - alpha_bar) * eps) / np.sqrt(alpha_bar)
    y = {"epsilon": eps, "sample": x0,
         "v_prediction": np.sqrt(alpha_bar) * eps - np.sqrt(1 - alpha_bar) * x0}[prediction]
    return y.float()


def run(key, cls, steps, seed, step_kwargs=None, **config):
    s = cls(**COMMON, **config)
    s.set_timesteps(steps)
    prediction = config.get("prediction_type", "epsilon")
    continuous = config.get("timestep_type") == "continuous" and prediction == "v_prediction"
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(SHAPE, generator=g) * s.init_noise_sigma
    rows = {k: [] for k in ["sample", "scaled", "model_output", "noise", "prev", "x0"]}
    for i, t in enumerate(s.timesteps):
        scaled = s.scale_model_input(x, t)
        y = model(scaled, t, prediction, continuous)
        drawn.clear()
        kwargs = dict(step_kwargs or {})
        if cls is not HeunDiscreteScheduler:
            kwargs["generator"] = torch.Generator().manual_seed(seed * 1000 + i)
        r = s.step(y, t, x, **kwargs)
        assert len(drawn) <= 1
        for name, v in [("sample", x), ("scaled", scaled), ("model_output", y),
                        ("noise", drawn[0] if drawn else torch.zeros(SHAPE)),
                        ("prev", r.prev_sample), ("x0", r.pred_original_sample)]:
            rows[name].append(v.numpy())
        x = r.prev_sample
    for name, v in rows.items():
        out[f"{key}.{name}"] = f32(v)
    out[f"{key}.timesteps"] = f32(s.timesteps)
    out[f"{key}.sigmas"] = f32(s.sigmas)
    out[f"{key}.init_noise_sigma"] = f32([float(s.init_noise_sigma)])


out["schedule.alphas_cumprod"] = f32(EulerDiscreteScheduler(**COMMON).alphas_cumprod)

E, A, H = EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, HeunDiscreteScheduler
# 1. EulerDiscreteScheduler: every option once.
run("euler.linspace.epsilon", E, 8, 1)
run("euler.leading.offset1.epsilon", E, 8, 2, timestep_spacing="leading", steps_offset=1)
run("euler.trailing.v", E, 8, 3, timestep_spacing="trailing", prediction_type="v_prediction")
run("euler.karras.epsilon", E, 8, 4, use_karras_sigmas=True)
run("euler.karras.minmax.sample", E, 8, 5, use_karras_sigmas=True, sigma_min=0.1, sigma_max=80.0,
    prediction_type="sample")
run("euler.exponential.epsilon", E, 8, 6, use_exponential_sigmas=True, timestep_spacing="leading")
run("euler.loglinear.epsilon", E, 8, 7, interpolation_type="log_linear")
run("euler.sigmamin.leading.sample", E, 8, 8, final_sigmas_type="sigma_min", timestep_spacing="leading",
    prediction_type="sample")
run("euler.continuous.v", E, 8, 9, timestep_type="continuous", prediction_type="v_prediction")
run("euler.churn", E, 8, 10, step_kwargs=dict(s_churn=2.0, s_tmin=0.5, s_tmax=40.0, s_noise=1.003))
run("euler.karras.churn.v", E, 8, 11, use_karras_sigmas=True, prediction_type="v_prediction",
    step_kwargs=dict(s_churn=30.0))

# 2. EulerAncestralDiscreteScheduler.
run("ancestral.linspace.epsilon", A, 8, 21)
run("ancestral.leading.offset1.v", A, 8, 22, timestep_spacing="leading", steps_offset=1,
    prediction_type="v_prediction")
run("ancestral.trailing.epsilon", A, 8, 23, timestep_spacing="trailing")

# 3. HeunDiscreteScheduler (beta_start/beta_end given: its defaults differ from the paper's).
run("heun.linspace.epsilon", H, 6, 31)
run("heun.karras.v", H, 6, 32, use_karras_sigmas=True, prediction_type="v_prediction")
run("heun.exponential.sample.clip", H, 6, 33, use_exponential_sigmas=True, prediction_type="sample",
    clip_sample=True, clip_sample_range=0.6)
run("heun.leading.offset1.epsilon", H, 6, 34, timestep_spacing="leading", steps_offset=1)
run("heun.trailing.epsilon.clip", H, 6, 35, timestep_spacing="trailing", clip_sample=True)

# 4. Grids only: timesteps and sigmas for more step counts.
for n in [1, 7, 50]:
    for spacing in ["linspace", "leading", "trailing"]:
        for sigmas in ["interp", "karras", "exponential"]:
            kw = dict(timestep_spacing=spacing, use_karras_sigmas=sigmas == "karras",
                      use_exponential_sigmas=sigmas == "exponential")
            for name, cls in [("euler", E), ("heun", H)]:
                s = cls(**COMMON, **kw)
                s.set_timesteps(n)
                out[f"grid.{name}.{spacing}.{sigmas}.{n}.timesteps"] = f32(s.timesteps)
                out[f"grid.{name}.{spacing}.{sigmas}.{n}.sigmas"] = f32(s.sigmas)

path = os.path.join(os.path.dirname(__file__), "../../Tests/DiffusionTests/Fixtures/euler.safetensors")
save_file(out, os.path.normpath(path), metadata={
    "generator": "scripts/reference/make_euler_fixtures.py",
    "diffusers": diffusers.__version__, "torch": torch.__version__, "numpy": np.__version__,
    "safetensors": safetensors.__version__,
    "convention": "timesteps are diffusers' 0-based model timesteps; paper t = timestep + 1",
})
print(len(out), "tensors,", os.path.getsize(path), "bytes")
