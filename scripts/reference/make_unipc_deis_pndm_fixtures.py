"""Writes Tests/DiffusionTests/Fixtures/unipc_deis_pndm.safetensors from diffusers'
UniPCMultistepScheduler, DEISMultistepScheduler and PNDMScheduler, for the parity tests in
Tests/DiffusionTests/{UniPC,DEIS,PNDM}Tests.swift.

    /work/venv/bin/pip install torch diffusers safetensors
    python scripts/reference/make_unipc_deis_pndm_fixtures.py

For each configuration `<family>.<name>` the full sampling loop runs with a deterministic model
(the exact ε-predictor for data N(0.3, 0.5²) per pixel, converted to the configuration's
prediction type), storing `scheduler.timesteps` (`.timesteps`), `scheduler.sigmas` where the
class has them (`.sigmas`), and per network evaluation the input sample (`.sample`, [K, 2, 1, 4, 4]),
the model output (`.output`) and the step's prev_sample (`.prev`), and the same teacher-forced steps
evaluated by diffusers' code with float64 scalar coefficients (`.prev.f64`). Timesteps are diffusers'
0-based model timesteps. The Swift tests build the same configuration from its name.
"""
import os
import numpy as np
import torch
import diffusers
import safetensors
from diffusers import UniPCMultistepScheduler, DEISMultistepScheduler, PNDMScheduler
from safetensors.numpy import save_file

T = 1000
SHAPE = (2, 1, 4, 4)
MU, S = 0.3, 0.5
betas64 = np.linspace(1e-4, 0.02, T, dtype=np.float64)
alphas_cumprod64 = np.cumprod(1 - betas64)
out = {}


def f32(x):
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


def model(x, t, prediction):
    """The exact E[ε | x_t] for N(MU, S²) data at integer model timestep t, as `prediction`."""
    ab = alphas_cumprod64[int(t)]
    x64 = x.double()
    eps = (x64 - np.sqrt(ab) * MU) * np.sqrt(1 - ab) / (ab * S * S + 1 - ab)
    x0 = (x64 - np.sqrt(1 - ab) * eps) / np.sqrt(ab)
    if prediction == "epsilon":
        y = eps
    elif prediction == "sample":
        y = x0 * 1.8  # an over-confident x̂₀, so that thresholding has something to do
    else:  # v_prediction
        y = np.sqrt(ab) * eps - np.sqrt(1 - ab) * x0
    return y.float()


def to_float64(scheduler):
    """diffusers' own step code with float64 coefficients: its float32 tables (σ or ᾱ) cast to float64."""
    for name in ["sigmas", "alphas_cumprod", "final_alpha_cumprod"]:
        value = getattr(scheduler, name, None)
        if isinstance(value, torch.Tensor):
            setattr(scheduler, name, value.double())


def run(key, make, steps, prediction="epsilon", seed=0):
    scheduler = make()
    scheduler.set_timesteps(steps)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(SHAPE, generator=g, dtype=torch.float32) * scheduler.init_noise_sigma
    samples, outputs, prevs = [], [], []
    for t in scheduler.timesteps:
        y = model(x, t, prediction)
        prev = scheduler.step(y, t, x).prev_sample
        assert torch.isfinite(prev).all(), key
        samples.append(x.numpy()); outputs.append(y.numpy()); prevs.append(prev.numpy())
        x = prev
    out[key + ".timesteps"] = f32(scheduler.timesteps.numpy())
    if hasattr(scheduler, "sigmas") and scheduler.sigmas is not None and not isinstance(scheduler, PNDMScheduler):
        out[key + ".sigmas"] = f32(scheduler.sigmas.numpy())
    out[key + ".sample"], out[key + ".output"], out[key + ".prev"] = f32(samples), f32(outputs), f32(prevs)
    # The same steps teacher-forced with the scalar coefficients in float64 (the float32 tensors
    # as they are): diffusers forms its coefficients (λ, e^h − 1, φ_k, DEIS's log-ρ integrals,
    # PNDM's ᾱ differences) from 0-dim float32 tensors, which costs up to ~5e-5.
    scheduler = make()
    scheduler.set_timesteps(steps)
    to_float64(scheduler)
    prevs64 = []
    for i, t in enumerate(scheduler.timesteps):
        x, y = torch.from_numpy(out[key + ".sample"][i]), torch.from_numpy(out[key + ".output"][i])
        prevs64.append(scheduler.step(y, t, x).prev_sample.numpy())
    out[key + ".prev.f64"] = f32(prevs64)


# diffusers' ᾱ (float32 β, float32 cumprod): ᾱ_999 differs from the float64 product by ~2e-5
# relative, so the Swift parity tests rebuild this exact chain (β_i = 1 − ᾱ_i/ᾱ_{i−1} in float64).
out["alphas_cumprod"] = f32(UniPCMultistepScheduler(num_train_timesteps=T).alphas_cumprod.numpy())

# UniPC: name -> (steps, options). Keep in sync with Tests/DiffusionTests/UniPCTests.swift.
UNIPC = {
    "default": (10, {}),
    "bh1_order3_sigmamin": (12, dict(solver_type="bh1", solver_order=3, final_sigmas_type="sigma_min")),
    "order1": (8, dict(solver_order=1)),
    "order3_eps_sigmamin": (12, dict(solver_order=3, predict_x0=False, final_sigmas_type="sigma_min")),
    "bh1_eps_v": (10, dict(solver_type="bh1", predict_x0=False, final_sigmas_type="sigma_min", prediction_type="v_prediction")),
    "disable_corrector": (10, dict(solver_order=3, disable_corrector=[0, 3, 9])),
    "no_lower_final": (10, dict(solver_order=3, lower_order_final=False, final_sigmas_type="sigma_min")),
    "karras_order3": (10, dict(solver_order=3, use_karras_sigmas=True)),
    "karras_bh1_sigmamin": (10, dict(solver_type="bh1", use_karras_sigmas=True, final_sigmas_type="sigma_min")),
    "leading_offset": (10, dict(timestep_spacing="leading", steps_offset=1)),
    "trailing": (10, dict(timestep_spacing="trailing", solver_order=3)),
    "threshold_sample": (10, dict(prediction_type="sample", thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=1.5)),
    "v_prediction": (10, dict(prediction_type="v_prediction", solver_order=3)),
    "single_step": (1, {}),
}
for name, (steps, options) in UNIPC.items():
    run(f"unipc.{name}", lambda: UniPCMultistepScheduler(num_train_timesteps=T, **options), steps,
        options.get("prediction_type", "epsilon"))

# DEIS: name -> (steps, options). Keep in sync with Tests/DiffusionTests/DEISTests.swift.
DEIS = {
    "default": (10, {}),
    "order1": (8, dict(solver_order=1)),
    "order3": (12, dict(solver_order=3)),
    "order3_20steps": (20, dict(solver_order=3)),
    "order3_3steps": (3, dict(solver_order=3)),
    "no_lower_final": (10, dict(solver_order=3, lower_order_final=False)),
    "karras_order3": (10, dict(solver_order=3, use_karras_sigmas=True)),
    "leading_offset": (10, dict(solver_order=3, timestep_spacing="leading", steps_offset=1)),
    "trailing": (10, dict(timestep_spacing="trailing")),
    "v_prediction": (10, dict(solver_order=3, prediction_type="v_prediction")),
    "threshold_sample": (10, dict(prediction_type="sample", thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=1.5)),
    "single_step": (1, {}),
}
for name, (steps, options) in DEIS.items():
    run(f"deis.{name}", lambda: DEISMultistepScheduler(num_train_timesteps=T, **options), steps,
        options.get("prediction_type", "epsilon"))

# PNDM: name -> (steps, options). Keep in sync with Tests/DiffusionTests/PNDMTests.swift.
PNDM = {
    "prk": (10, {}),
    "prk_4steps": (4, {}),
    "prk_alphaone_v": (10, dict(set_alpha_to_one=True, prediction_type="v_prediction")),
    "prk_linspace": (7, dict(timestep_spacing="linspace")),
    "plms": (10, dict(skip_prk_steps=True)),
    "plms_1step": (1, dict(skip_prk_steps=True)),
    "plms_2steps": (2, dict(skip_prk_steps=True)),
    "plms_offset_alphaone": (12, dict(skip_prk_steps=True, steps_offset=1, set_alpha_to_one=True)),
    "plms_trailing": (10, dict(skip_prk_steps=True, timestep_spacing="trailing")),
    "plms_linspace_v": (9, dict(skip_prk_steps=True, timestep_spacing="linspace", prediction_type="v_prediction")),
}
for name, (steps, options) in PNDM.items():
    run(f"pndm.{name}", lambda: PNDMScheduler(num_train_timesteps=T, **options), steps,
        options.get("prediction_type", "epsilon"))

path = os.path.join(os.path.dirname(__file__), "../../Tests/DiffusionTests/Fixtures/unipc_deis_pndm.safetensors")
save_file(out, os.path.normpath(path), metadata={
    "generator": "scripts/reference/make_unipc_deis_pndm_fixtures.py",
    "diffusers": diffusers.__version__, "torch": torch.__version__, "numpy": np.__version__,
    "safetensors": safetensors.__version__,
    "convention": "timesteps are diffusers' 0-based model timesteps; paper t = timestep + 1",
})
print(len(out), "tensors,", os.path.getsize(path), "bytes")
