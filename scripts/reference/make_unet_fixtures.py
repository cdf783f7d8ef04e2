#!/usr/bin/env python3
"""Writes U-Net parity fixtures from diffusers' UNet2DModel into Tests/ModelsTests/Fixtures/.

For each config: random-init weights (torch default init, seeded), an input x, timesteps, the
output eps, intermediate activations (conv_in, each down block, mid block, each up block), the
gradients of L_simple-style loss mean((eps_pred - target)^2) with respect to chosen parameters,
and the parameters after one Adam step (lr 2e-4, betas (0.9, 0.999), eps 1e-8) on that loss.

Run: python3 -m venv venv && venv/bin/pip install torch diffusers safetensors
     venv/bin/python scripts/reference/make_unet_fixtures.py
"""
import json
import os

import diffusers
import torch
from diffusers import UNet2DModel
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")

CONFIGS = {
    # Small 1-channel model: 16x16, channels (8, 16), attention at 8x8 in the second level.
    "grey16": dict(sample_size=16, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                   down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                   layers_per_block=1, norm_num_groups=4, norm_eps=1e-6, downsample_padding=0, flip_sin_to_cos=False,
                   freq_shift=1, attention_head_dim=None, dropout=0.0),
    # The DDPM block layout with 3 channels: 3 levels, attention at 8x8 (level 1), 2 res blocks,
    # two attention heads to exercise the head split.
    "rgb16": dict(sample_size=16, in_channels=3, out_channels=3, block_out_channels=(8, 16, 16),
                  down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                  up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), layers_per_block=2, norm_num_groups=4,
                  norm_eps=1e-6, downsample_padding=0, flip_sin_to_cos=False, freq_shift=1, attention_head_dim=8,
                  dropout=0.0),
}
GRAD_KEYS = ["conv_in.weight", "time_embedding.linear_1.weight", "down_blocks.1.attentions.0.to_q.weight",
             "down_blocks.0.resnets.0.norm1.weight", "mid_block.attentions.0.to_out.0.bias", "up_blocks.0.resnets.0.conv1.weight",
             "conv_out.weight", "conv_out.bias"]


def make(name, cfg, seed):
    torch.manual_seed(seed)
    model = UNet2DModel(**cfg)
    # torch's default init leaves zero GroupNorm biases and unit weights; perturb them so the test sees them.
    with torch.no_grad():
        for k, p in model.named_parameters():
            if "norm" in k:
                p.add_(0.1 * torch.randn_like(p))
    model.eval()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(2, cfg["in_channels"], cfg["sample_size"], cfg["sample_size"], generator=g)
    t = torch.tensor([3, 917])
    target = torch.randn(x.shape, generator=g)
    acts = {}

    def hook(key):
        def f(_m, _i, out):
            acts[key] = (out[0] if isinstance(out, tuple) else out).detach().clone()
        return f

    model.conv_in.register_forward_hook(hook("act.conv_in"))
    for i, b in enumerate(model.down_blocks):
        b.register_forward_hook(hook(f"act.down_blocks.{i}"))
    model.mid_block.register_forward_hook(hook("act.mid_block"))
    for i, b in enumerate(model.up_blocks):
        b.register_forward_hook(hook(f"act.up_blocks.{i}"))
    out = model(x, t).sample
    loss = ((out - target) ** 2).mean()
    loss.backward()
    params = dict(model.named_parameters())
    tensors = {f"param.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    tensors.update({"x": x, "timesteps": t.float(), "target": target, "output": out.detach(), "loss": loss.detach().reshape(1)})
    tensors.update(acts)
    for k in GRAD_KEYS:
        if k in params:
            tensors[f"grad.{k}"] = params[k].grad.detach().clone()
    opt = torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.9, 0.999), eps=1e-8)
    opt.step()
    for k in GRAD_KEYS:
        if k in params:
            tensors[f"adam.{k}"] = params[k].detach().clone()
    meta = {"config": json.dumps(cfg), "torch": torch.__version__, "diffusers": diffusers.__version__, "seed": str(seed),
            "grad_keys": json.dumps([k for k in GRAD_KEYS if k in params]),
            "parameter_count": str(sum(p.numel() for p in model.parameters()))}
    save_file({k: v.contiguous().float() for k, v in tensors.items()}, os.path.join(OUT, f"unet_{name}.safetensors"), metadata=meta)
    print(name, "params", meta["parameter_count"], "tensors", len(tensors))


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for i, (name, cfg) in enumerate(CONFIGS.items()):
        make(name, cfg, seed=100 + i)
    # Parameter counts and key lists of the full-size presets, for the structure tests.
    counts = {}
    for name, cfg in {
        "cifar10": dict(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(128, 256, 256, 256),
                        down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
                        up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), layers_per_block=2,
                        downsample_padding=0, flip_sin_to_cos=False, freq_shift=1, norm_eps=1e-6, attention_head_dim=None),
        "celebahq256": dict(sample_size=256, in_channels=3, out_channels=3, block_out_channels=(128, 128, 256, 256, 512, 512),
                            down_block_types=("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
                            up_block_types=("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4, layers_per_block=2,
                            downsample_padding=0, flip_sin_to_cos=False, freq_shift=1, norm_eps=1e-6, attention_head_dim=None),
    }.items():
        m = UNet2DModel(**cfg)
        sd = m.state_dict()
        counts[name] = {"parameters": sum(p.numel() for p in m.parameters()),
                        "keys": {k: list(v.shape) for k, v in sd.items()}}
    with open(os.path.join(OUT, "unet_layouts.json"), "w") as f:
        json.dump(counts, f, sort_keys=True)
    print({k: v["parameters"] for k, v in counts.items()})


if __name__ == "__main__":
    main()
