"""Writes Tests/DiffusionTests/Fixtures/dpm_solver.safetensors from diffusers' DPMSolverMultistepScheduler
and DPMSolverSinglestepScheduler, for Tests/DiffusionTests/DPMSolverTests.swift.

    /work/venv/bin/python scripts/reference/make_dpm_solver_fixtures.py

For each configuration (key prefix "<ms|ss>.<name>") we run diffusers' whole sampling loop on the
paper's linear schedule (T = 1000) with a deterministic model (the exact x0 posterior mean for data
N(0.3, 1) plus 0.05 sin(3 x), converted to the configured prediction type at the scheduler's sigma)
and store per step: the input sample ("sample" [N, 2, 1, 4, 4]), the model output ("output"), the
noise of SDE variants ("noise"; passed as variance_noise, or returned by a stand-in for randn_tensor
in the singlestep scheduler, whose step() takes no noise) and, for the ++ variants, the x0 that
diffusers keeps in model_outputs[-1] ("converted"); prev_sample of step i is the sample of step
i + 1, and the last one is "final". Also scheduler.timesteps ("timesteps"), scheduler.sigmas
("sigmas") and, for the singlestep scheduler, its order_list ("orders").

Precision: diffusers computes alphas_cumprod in float32, so sigma = sqrt((1 - abar) / abar) near t = 0
(1 - abar ~ 1e-4) is off by up to ~3e-4 relative. We replace alphas_cumprod (and lambda_t) by their
float64 values before set_timesteps, so that the noise levels are the exact ones of the schedule the
Swift side uses; everything after that (sigmas stored in float32, every update in float32 torch) is
diffusers' own code.
"""
import os
import numpy as np
import torch
import diffusers
from diffusers import DPMSolverMultistepScheduler, DPMSolverSinglestepScheduler
from safetensors.numpy import save_file

T = 1000
SHAPE = (2, 1, 4, 4)
MU, S = 0.3, 1.0
betas64 = np.linspace(1e-4, 0.02, T, dtype=np.float64)
ac64 = np.cumprod(1 - betas64)
out = {}


def f32(x):
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


def model(x, sigma, prediction_type):
    sigma = float(sigma)
    alpha = 1 / np.sqrt(sigma**2 + 1)
    sigma_vp = sigma * alpha
    x0 = MU + alpha * S**2 * (x - alpha * MU) / (alpha**2 * S**2 + sigma_vp**2) + 0.05 * torch.sin(3 * x)
    eps = (x - alpha * x0) / sigma_vp if sigma_vp > 0 else torch.zeros_like(x)
    if prediction_type == "epsilon":
        return eps
    if prediction_type == "sample":
        return x0
    return alpha * eps - sigma_vp * x0  # v_prediction


_pending_noise = []


def _recorded_randn(shape, generator=None, device=None, dtype=None, **kwargs):
    """DPMSolverSinglestepScheduler.step has no variance_noise argument: it draws with randn_tensor,
    which we replace by the noise prepared for the current step."""
    return _pending_noise.pop().to(dtype)


diffusers.schedulers.scheduling_dpmsolver_singlestep.randn_tensor = _recorded_randn


def run(prefix, cls, steps, seed, **config):
    s = cls(num_train_timesteps=T, **config)
    s.alphas_cumprod = torch.from_numpy(ac64)
    s.alpha_t, s.sigma_t = torch.sqrt(s.alphas_cumprod), torch.sqrt(1 - s.alphas_cumprod)
    s.lambda_t = torch.log(s.alpha_t) - torch.log(s.sigma_t)
    s.set_timesteps(steps)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(SHAPE, generator=g, dtype=torch.float32) * s.init_noise_sigma
    sde = s.config.algorithm_type.startswith("sde")
    rec = {k: [] for k in ["sample", "output", "noise", "prev", "converted"]}
    for i, t in enumerate(s.timesteps):
        y = model(s.scale_model_input(x, t), s.sigmas[i], s.config.prediction_type).float()
        z = torch.randn(SHAPE, generator=g, dtype=torch.float32)
        if cls is MS:
            r = s.step(y, t, x, variance_noise=z if sde else None)
        else:
            _pending_noise[:] = [z]
            r = s.step(y, t, x)
        rec["sample"].append(x.numpy()); rec["output"].append(y.numpy()); rec["noise"].append(z.numpy())
        rec["prev"].append(r.prev_sample.numpy()); rec["converted"].append(s.model_outputs[-1].numpy())
        x = r.prev_sample
    data_prediction = s.config.algorithm_type.endswith("++")
    for k, v in rec.items():
        if k == "prev":  # prev_sample of step i is the sample of step i + 1: only the last is stored
            out[f"{prefix}.final"] = f32(v[-1])
        elif (k != "noise" or sde) and (k != "converted" or data_prediction):
            out[f"{prefix}.{k}"] = f32(np.stack(v))
    out[f"{prefix}.timesteps"] = f32(s.timesteps.numpy())
    out[f"{prefix}.sigmas"] = f32(s.sigmas.numpy())
    return s


MS = DPMSolverMultistepScheduler
# name, steps, options
multistep = [
    ("default", 10, {}),
    ("order1", 10, dict(solver_order=1)),
    ("order3", 20, dict(solver_order=3)),
    ("order3_short", 10, dict(solver_order=3)),
    ("order2_heun_sigmamin_leading", 12, dict(solver_type="heun", final_sigmas_type="sigma_min", lower_order_final=False,
                                              timestep_spacing="leading", steps_offset=1)),
    ("order3_euler_final_trailing_v", 16, dict(solver_order=3, euler_at_final=True, final_sigmas_type="sigma_min",
                                               timestep_spacing="trailing", prediction_type="v_prediction")),
    ("karras_sample", 10, dict(use_karras_sigmas=True, prediction_type="sample")),
    # Karras levels end at sigma_min, so with final_sigmas_type="sigma_min" the last step has length 0
    # (h = 0); diffusers returns NaN there at order 3 unless euler_at_final (a first-order step: identity).
    ("karras_order3_sigmamin", 15, dict(solver_order=3, use_karras_sigmas=True, final_sigmas_type="sigma_min",
                                        euler_at_final=True)),
    ("lu_order3", 10, dict(solver_order=3, use_lu_lambdas=True)),
    ("threshold", 10, dict(thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=1.5)),
    ("clipped_linspace", 10, dict(lambda_min_clipped=-3.0)),
    ("clipped_trailing", 10, dict(lambda_min_clipped=-3.0, timestep_spacing="trailing")),
    ("clipped_leading_order3", 10, dict(lambda_min_clipped=-3.0, timestep_spacing="leading", solver_order=3)),
    ("sdepp_midpoint", 10, dict(algorithm_type="sde-dpmsolver++")),
    ("sdepp_heun_v", 12, dict(algorithm_type="sde-dpmsolver++", solver_type="heun", prediction_type="v_prediction")),
    ("sdepp_order3_sigmamin", 16, dict(algorithm_type="sde-dpmsolver++", solver_order=3, final_sigmas_type="sigma_min")),
    ("sdepp_order1", 10, dict(algorithm_type="sde-dpmsolver++", solver_order=1)),
    ("dpm_order1", 10, dict(algorithm_type="dpmsolver", solver_order=1, final_sigmas_type="sigma_min")),
    ("dpm_midpoint_sample", 10, dict(algorithm_type="dpmsolver", final_sigmas_type="sigma_min", prediction_type="sample")),
    ("dpm_heun_v", 12, dict(algorithm_type="dpmsolver", solver_type="heun", final_sigmas_type="sigma_min",
                            prediction_type="v_prediction")),
    ("dpm_order3_threshold", 16, dict(algorithm_type="dpmsolver", solver_order=3, final_sigmas_type="sigma_min",
                                      thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=1.5)),
    ("sde_midpoint", 10, dict(algorithm_type="sde-dpmsolver", final_sigmas_type="sigma_min")),
    ("sde_heun", 10, dict(algorithm_type="sde-dpmsolver", solver_type="heun", final_sigmas_type="sigma_min")),
]
for i, (name, steps, options) in enumerate(multistep):
    run(f"ms.{name}", MS, steps, 1000 + i, **options)

SS = DPMSolverSinglestepScheduler
singlestep = [
    ("default", 10, {}),
    ("order2_odd", 11, {}),
    ("order2_heun", 10, dict(solver_type="heun")),
    ("order1", 10, dict(solver_order=1)),
    ("order3_12", 12, dict(solver_order=3)),
    ("order3_13", 13, dict(solver_order=3)),
    ("order3_14_heun", 14, dict(solver_order=3, solver_type="heun")),
    ("order3_pure_heun_v", 12, dict(solver_order=3, solver_type="heun", final_sigmas_type="sigma_min",
                                    lower_order_final=False, prediction_type="v_prediction")),
    ("order2_forced_lower_final", 11, dict(final_sigmas_type="sigma_min", lower_order_final=False)),
    ("order2_pure_sigmamin", 10, dict(final_sigmas_type="sigma_min", lower_order_final=False)),
    ("karras_sample", 10, dict(use_karras_sigmas=True, prediction_type="sample")),
    ("threshold_order3", 12, dict(solver_order=3, thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=1.5)),
    ("clipped", 10, dict(lambda_min_clipped=-3.0)),
    ("dpm_midpoint", 10, dict(algorithm_type="dpmsolver", final_sigmas_type="sigma_min")),
    ("dpm_order3_heun", 12, dict(algorithm_type="dpmsolver", solver_order=3, solver_type="heun", final_sigmas_type="sigma_min")),
    ("dpm_order3_midpoint_v", 13, dict(algorithm_type="dpmsolver", solver_order=3, final_sigmas_type="sigma_min",
                                       prediction_type="v_prediction")),
    ("sdepp_midpoint", 10, dict(algorithm_type="sde-dpmsolver++")),
    ("sdepp_heun", 11, dict(algorithm_type="sde-dpmsolver++", solver_type="heun")),
    ("sdepp_order3_midpoint", 12, dict(algorithm_type="sde-dpmsolver++", solver_order=3)),
    ("sdepp_order3_heun_sigmamin", 12, dict(algorithm_type="sde-dpmsolver++", solver_order=3, solver_type="heun",
                                            final_sigmas_type="sigma_min", lower_order_final=False)),
]
for i, (name, steps, options) in enumerate(singlestep):
    s = run(f"ss.{name}", SS, steps, 2000 + i, **options)
    out[f"ss.{name}.orders"] = f32(s.order_list)

path = os.path.join(os.path.dirname(__file__), "../../Tests/DiffusionTests/Fixtures/dpm_solver.safetensors")
save_file(out, os.path.normpath(path), metadata={"diffusers": diffusers.__version__, "torch": torch.__version__})
print(f"wrote {len(out)} tensors, {os.path.getsize(path)} bytes")
