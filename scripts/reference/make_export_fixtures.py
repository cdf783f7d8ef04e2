#!/usr/bin/env python3
"""Round trip of this project's model export through diffusers' DDPMPipeline, for
Tests/PipelinesTests/ExportRoundTripTests.swift. Writes into Tests/PipelinesTests/Fixtures/:

  exported-pipeline/   the `model/` directory of a 3-step `ddpm train` run of tiny8-grey, as the
                       project writes it (model_index.json, unet/, scheduler/): what a user hands
                       to `DDPMPipeline.from_pretrained`
  export.safetensors
    ddim.xT, ddim.project     x_T, and `ddpm sample --sampler ddim --steps 20 --initial-noise` on it
    ddim.diffusers            DDIMScheduler.from_config(pipe.scheduler.config), 20 steps, eta 0, from
                              the same x_T with the pipeline's U-Net (checked against DDIMPipeline)
    ddpm.xT, ddpm.noise       DDPMPipeline's own run (1000 ancestral steps, generator seeded): its x_T
    ddpm.diffusers            and the noise each step drew ([1000, ...], in timestep order 999 ... 0,
                              zero at 0), and the raw sample before (x / 2 + 0.5).clamp(0, 1)

It needs a built binary (`swift build -c release`), and runs it:

    /work/venv/bin/python scripts/reference/make_export_fixtures.py [--ddpm .build/release/ddpm]

Everything in torch runs on one CPU thread in float32.
"""
import argparse
import os
import shutil
import subprocess
import tempfile

import diffusers
import numpy as np
import safetensors
import torch
from diffusers import DDIMPipeline, DDIMScheduler, DDPMPipeline, DDPMScheduler, UNet2DModel
from PIL import Image
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)
ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "PipelinesTests", "Fixtures")
SEED = 20261202
parser = argparse.ArgumentParser()
parser.add_argument("--ddpm", default=os.path.join(ROOT, ".build", "release", "ddpm"))
args = parser.parse_args()


def ddpm(*arguments):
    result = subprocess.run([args.ddpm, *arguments], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"ddpm {' '.join(arguments)}: {result.stdout}\n{result.stderr}"
    return result.stdout


work = tempfile.mkdtemp(prefix="ddpm-export-")
data = os.path.join(work, "data")
os.makedirs(data)
for i in range(16):  # bars, as the Swift tests' tiny data set
    pixels = np.array([[230 if ((y if i % 2 == 0 else x) + i // 2) % 4 < 2 else 20 for x in range(8)] for y in range(8)], np.uint8)
    Image.fromarray(pixels, "L").save(os.path.join(data, f"bar-{i:02}.png"))
run = os.path.join(work, "run")
ddpm("train", "--dataset", "folder", "--data", data, "--preset", "tiny8-grey", "--output", run, "--steps", "3",
     "--batch-size", "4", "--checkpoint-every", "3", "--sample-every", "0", "--seed", "7", "--learning-rate", "1e-3",
     "--warmup", "1")
exported = os.path.join(OUT, "exported-pipeline")
shutil.rmtree(exported, ignore_errors=True)
shutil.copytree(os.path.join(run, "model"), exported)

pipe = DDPMPipeline.from_pretrained(exported)
pipe.set_progress_bar_config(disable=True)
assert isinstance(pipe.unet, UNet2DModel) and isinstance(pipe.scheduler, DDPMScheduler), pipe
unet = pipe.unet.eval()
out = {}
shape = (2, 1, 8, 8)

# DDIM, 20 steps, from a given x_T: the project's CLI output and diffusers' from the same x_T.
x_t = torch.randn(shape, generator=torch.Generator().manual_seed(SEED), dtype=torch.float32)
save_file({"noise": x_t}, os.path.join(work, "xT.safetensors"))
ddpm("sample", "--model", exported, "--sampler", "ddim", "--steps", "20", "--initial-noise",
     os.path.join(work, "xT.safetensors"), "--output", os.path.join(work, "samples"))
out["ddim.project"] = load_file(os.path.join(work, "samples", "samples.safetensors"))["samples"]
ddim = DDIMScheduler.from_config(pipe.scheduler.config)
ddim.set_timesteps(20)
x = x_t.clone()
with torch.no_grad():
    for t in ddim.timesteps:
        x = ddim.step(unet(x, t).sample, t, x, eta=0.0).prev_sample
out["ddim.xT"], out["ddim.diffusers"] = x_t, x
images = DDIMPipeline(unet=unet, scheduler=DDIMScheduler.from_config(pipe.scheduler.config))(
    batch_size=2, generator=torch.Generator().manual_seed(SEED), num_inference_steps=20, eta=0.0, output_type="np").images
assert np.abs(images - (x / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()).max() < 1e-6, "loop differs from DDIMPipeline"

# DDPMPipeline itself: x_T and each step's noise are the generator's draws in order (x_T, then one
# per step with t > 0), so replaying them reproduces its run; its output checks the replay.
generator = torch.Generator().manual_seed(SEED + 1)
x_t = torch.randn(shape, generator=generator, dtype=torch.float32)
scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
scheduler.set_timesteps(1000)
x, noises = x_t.clone(), []
with torch.no_grad():
    for t in scheduler.timesteps:
        state = generator.get_state()
        noises.append(torch.randn(shape, generator=generator, dtype=torch.float32) if t > 0 else torch.zeros(shape))
        generator.set_state(state)
        x = scheduler.step(unet(x, t).sample, t, x, generator=generator).prev_sample
images = pipe(batch_size=2, generator=torch.Generator().manual_seed(SEED + 1), num_inference_steps=1000, output_type="np").images
assert np.abs(images - (x / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()).max() < 1e-6, "replay differs from DDPMPipeline"
out["ddpm.xT"], out["ddpm.noise"], out["ddpm.diffusers"] = x_t, torch.stack(noises), x

out = {k: v.detach().float().contiguous() for k, v in out.items()}
save_file(out, os.path.join(OUT, "export.safetensors"), metadata={
    "generator": "scripts/reference/make_export_fixtures.py", "seed": str(SEED), "diffusers": diffusers.__version__,
    "torch": torch.__version__, "safetensors": safetensors.__version__,
    "convention": "ddpm.noise[i] is the noise of the step at model timestep 999 - i (paper t = 1000 - i)",
})
shutil.rmtree(work)
ddim_error = float((out["ddim.project"] - out["ddim.diffusers"]).abs().max() / out["ddim.diffusers"].abs().max())
print(f"DDIM project vs diffusers: max relative error {ddim_error:.3g}; wrote {exported} and export.safetensors")
