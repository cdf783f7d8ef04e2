#!/usr/bin/env python3
"""Class-conditional UNet2DModel parity fixtures, and the check that a model exported
by swift-ddpm loads in diffusers.

    /work/venv/bin/python scripts/reference/make_conditional_unet_fixtures.py
        writes Tests/ModelsTests/Fixtures/unet_class_{table,timestep,identity}.safetensors:
        the 16x16 grey model of make_unet_fixtures.py with each of diffusers' class embeddings
          table     class_embed_type None, num_class_embeds 4 (3 classes + the null label 3);
                    labels [0, 3] (a class and the null label)
          timestep  class_embed_type "timestep" (the label's sinusoid, then linear_1/SiLU/linear_2);
                    labels [2, 7]
          identity  class_embed_type "identity": given vectors [2, 32] added to the time embedding
        each with random weights (norms perturbed), x, timesteps, class_labels or class_embeddings,
        the output, every stage's activation, and the L_simple-style gradient of the class weights.

    /work/venv/bin/python scripts/reference/make_conditional_unet_fixtures.py --check-export DIR
        loads DIR (written by the Swift test "an exported conditional model ..." with
        DDPM_EXPORT_DIR=DIR) with UNet2DModel.from_pretrained, runs it on DIR/reference.safetensors'
        x, timesteps and class_labels, and compares with the Swift output stored there (<= 1e-4).

diffusers ignores swift-ddpm's own config keys null_class_label and class_names (it logs that
they are unexpected); the null label is simply the last row of class_embedding.weight.
Float32, one CPU thread.
"""
import json
import os
import sys

import diffusers
import torch
from diffusers import UNet2DModel
from safetensors.torch import load_file, save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")

BASE = dict(sample_size=16, in_channels=1, out_channels=1, block_out_channels=(8, 16),
            down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            layers_per_block=1, norm_num_groups=4, norm_eps=1e-6, downsample_padding=0, flip_sin_to_cos=False,
            freq_shift=1, attention_head_dim=None, dropout=0.0)
CONFIGS = {
    "table": dict(BASE, num_class_embeds=4),
    "timestep": dict(BASE, class_embed_type="timestep"),
    "identity": dict(BASE, class_embed_type="identity"),
}
GRAD_KEYS = ["class_embedding.weight", "class_embedding.linear_1.weight", "class_embedding.linear_2.bias",
             "time_embedding.linear_1.weight", "conv_in.weight"]


def make(name, cfg, seed):
    torch.manual_seed(seed)
    model = UNet2DModel(**cfg)
    with torch.no_grad():
        for k, p in model.named_parameters():
            if "norm" in k:
                p.add_(0.1 * torch.randn_like(p))
    model.eval()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(2, 1, 16, 16, generator=g)
    t = torch.tensor([3, 917])
    target = torch.randn(x.shape, generator=g)
    tensors = {}
    if name == "table":
        labels = torch.tensor([0, 3])
        tensors["class_labels"] = labels.float()
    elif name == "timestep":
        labels = torch.tensor([2, 7])
        tensors["class_labels"] = labels.float()
    else:
        labels = torch.randn(2, 4 * cfg["block_out_channels"][0], generator=g)
        tensors["class_embeddings"] = labels
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
    out = model(x, t, class_labels=labels).sample
    loss = ((out - target) ** 2).mean()
    loss.backward()
    params = dict(model.named_parameters())
    tensors.update({f"param.{k}": v.detach().clone() for k, v in model.state_dict().items()})
    tensors.update({"x": x, "timesteps": t.float(), "target": target, "output": out.detach(), "loss": loss.detach().reshape(1)})
    tensors.update(acts)
    keys = [k for k in GRAD_KEYS if k in params]
    for k in keys:
        tensors[f"grad.{k}"] = params[k].grad.detach().clone()
    meta = {"config": json.dumps(cfg), "torch": torch.__version__, "diffusers": diffusers.__version__, "seed": str(seed),
            "grad_keys": json.dumps(keys), "parameter_count": str(sum(p.numel() for p in model.parameters()))}
    save_file({k: v.contiguous().float() for k, v in tensors.items()}, os.path.join(OUT, f"unet_class_{name}.safetensors"),
              metadata=meta)
    print(name, "params", meta["parameter_count"], "tensors", len(tensors))


def check_export(directory):
    # The pipeline layout (model_index.json, unet/, scheduler/) that ModelDirectory.save writes.
    pipeline = os.path.exists(os.path.join(directory, "model_index.json"))
    model = UNet2DModel.from_pretrained(directory, subfolder="unet" if pipeline else None).eval()
    ref = load_file(os.path.join(directory, "reference.safetensors"))
    with torch.no_grad():
        out = model(ref["x"], ref["timesteps"].long(), class_labels=ref["class_labels"].long()).sample
    diff = (out - ref["output"]).abs().max().item()
    cfg = model.config
    print(f"diffusers {diffusers.__version__} loaded {directory}: num_class_embeds {cfg.num_class_embeds}, "
          f"class_embed_type {cfg.class_embed_type}, max |diffusers - swift| = {diff:.3g}")
    if diff > 1e-4:
        sys.exit(f"exported model differs from swift-ddpm's output by {diff} > 1e-4")


def main():
    torch.set_num_threads(1)
    if len(sys.argv) == 3 and sys.argv[1] == "--check-export":
        check_export(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    for i, (name, cfg) in enumerate(CONFIGS.items()):
        make(name, cfg, seed=300 + i)


if __name__ == "__main__":
    main()
