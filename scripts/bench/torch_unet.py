#!/usr/bin/env python3
"""PyTorch/diffusers baseline for `ddpm bench unet`: the same U-Nets and steps, float32, 2 threads,
median of timed runs after warm-up. Each case runs in a fresh process so its peak RSS is its own.
Prints one JSON object on stdout.

Cases (the configurations of `ddpm bench unet`):
  cifar-forward   google/ddpm-cifar10-32 UNet2DModel (+dropout 0.1), eval, no_grad, batch 16
  cifar-train     same, train step at batch 16: add_noise + forward + MSE + backward + Adam(2e-4)
  small-train     1-channel 32x32 (32, 64, 64), 2 blocks, attention at 16: train step at batch 64
  small-denoise   same, one denoising step at batch 64: forward (eval, no_grad) + DDPMScheduler.step

Usage: python3 torch_unet.py [--repeats N] [--case NAME]   (needs torch and diffusers)
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

CASES = ["cifar-forward", "cifar-train", "small-train", "small-denoise"]


def config(name):
    common = dict(center_input_sample=False, time_embedding_type="positional", flip_sin_to_cos=False, freq_shift=1,
                  mid_block_scale_factor=1, downsample_padding=0, act_fn="silu", attention_head_dim=None,
                  norm_eps=1e-6, dropout=0.1, layers_per_block=2)
    if name.startswith("cifar"):
        return dict(common, sample_size=32, in_channels=3, out_channels=3, block_out_channels=(128, 256, 256, 256),
                    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
                    up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), norm_num_groups=32)
    return dict(common, sample_size=32, in_channels=1, out_channels=1, block_out_channels=(32, 64, 64),
                down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8)


def run_case(name, repeats):
    import torch
    from diffusers import DDPMScheduler, UNet2DModel
    from diffusers.utils import logging

    logging.set_verbosity_error()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = UNet2DModel(**config(name))
    sched = DDPMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
                          variance_type="fixed_small", clip_sample=True)
    batch = 16 if name.startswith("cifar") else 64
    ch = 3 if name.startswith("cifar") else 1
    x = torch.randn(batch, ch, 32, 32)
    if name.endswith("train"):
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=2e-4)

        def step():
            t = torch.randint(0, 1000, (batch,))
            noise = torch.randn_like(x)
            loss = torch.nn.functional.mse_loss(model(sched.add_noise(x, noise, t), t).sample, noise)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    elif name.endswith("forward"):
        model.eval()

        def step():
            with torch.no_grad():
                model(x, torch.full((batch,), 500)).sample
    else:
        model.eval()
        sched.set_timesteps(1000)

        def step():
            with torch.no_grad():
                eps = model(x, 500).sample
                sched.step(eps, 500, x).prev_sample
    for _ in range(2):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    return {"seconds": statistics.median(times), "batch": batch, "peak_rss_mb": rss_mb}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--case")
    a = ap.parse_args()
    if a.case:
        print(json.dumps(run_case(a.case, a.repeats)))
        return
    out = {}
    for case in CASES:
        r = subprocess.run([sys.executable, __file__, "--case", case, "--repeats", str(a.repeats)],
                           capture_output=True, text=True, check=True)
        out[case] = json.loads(r.stdout.strip().splitlines()[-1])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
