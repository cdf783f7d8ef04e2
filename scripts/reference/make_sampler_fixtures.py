#!/usr/bin/env python3
"""Writes Tests/PipelinesTests/Fixtures/samplers_e2e.safetensors: end-to-end samples of the shipped
Fashion-MNIST model (pretrained/fashion-mnist) drawn by diffusers' schedulers, for
Tests/PipelinesTests/SamplerParityTests.swift.

    /work/venv/bin/pip install torch diffusers safetensors
    /work/venv/bin/python scripts/reference/make_sampler_fixtures.py

Each scheduler is built as a diffusers user swaps one in: `Cls.from_config(ddpm_scheduler.config)`
from the model's scheduler_config.json (shared keys such as timestep_spacing carry over, the rest
take the class's defaults), then the pipelines' loop runs from the stored x_T:

    x = x_T * init_noise_sigma
    for t in scheduler.timesteps:
        x = scheduler.step(unet(scheduler.scale_model_input(x, t), t).sample, t, x).prev_sample

Keys: `xT` [2, 1, 32, 32]; `<name>.<steps>.sample` (raw, unclamped) and `<name>.<steps>.timesteps`
for every deterministic scheduler and steps in 10, 20, 50. One CPU thread, float32.
"""
import os

import diffusers
import torch
from diffusers import (DDIMScheduler, DEISMultistepScheduler, DPMSolverMultistepScheduler, DPMSolverSinglestepScheduler,
                       EulerDiscreteScheduler, HeunDiscreteScheduler, PNDMScheduler, UNet2DModel, UniPCMultistepScheduler,
                       DDPMScheduler)
from safetensors.torch import save_file

torch.set_num_threads(1)
ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(ROOT, "pretrained", "fashion-mnist")
OUT = os.path.join(ROOT, "Tests", "PipelinesTests", "Fixtures", "samplers_e2e.safetensors")

unet = UNet2DModel.from_pretrained(MODEL).eval()
config = DDPMScheduler.from_pretrained(MODEL).config
SCHEDULERS = {
    "ddim": (DDIMScheduler, {}),
    "pndm": (PNDMScheduler, {}),
    "plms": (PNDMScheduler, {"skip_prk_steps": True}),
    "deis": (DEISMultistepScheduler, {}),
    "dpm-solver++": (DPMSolverMultistepScheduler, {}),
    "dpm-solver++-3m": (DPMSolverMultistepScheduler, {"solver_order": 3}),
    "dpm-solver++-singlestep": (DPMSolverSinglestepScheduler, {}),
    "unipc": (UniPCMultistepScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "heun": (HeunDiscreteScheduler, {}),
    "dpm-solver++-karras-trailing": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True, "timestep_spacing": "trailing"}),
    "euler-karras": (EulerDiscreteScheduler, {"use_karras_sigmas": True}),
}

x_T = torch.randn((2, 1, 32, 32), generator=torch.Generator().manual_seed(20261201), dtype=torch.float32)
out = {"xT": x_T}
with torch.no_grad():
    for name, (cls, options) in SCHEDULERS.items():
        for steps in (10, 20, 50):
            s = cls.from_config(config, **options)
            s.set_timesteps(steps)
            x = x_T * s.init_noise_sigma
            for t in s.timesteps:
                x = s.step(unet(s.scale_model_input(x, t), t).sample, t, x).prev_sample
            out[f"{name}.{steps}.sample"] = x.contiguous()
            out[f"{name}.{steps}.timesteps"] = s.timesteps.to(torch.float32).contiguous()
            print(name, steps, "evaluations", len(s.timesteps), "mean", float(x.mean()), "std", float(x.std()))
save_file(out, OUT, metadata={"diffusers": diffusers.__version__, "torch": torch.__version__,
                              "model": "pretrained/fashion-mnist"})
print("wrote", OUT)
