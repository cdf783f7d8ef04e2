#!/usr/bin/env python3
"""Writes Tests/MetricsTests/Fixtures/basic_conv.pth and basic_conv.safetensors: the state dict of
torchvision's BasicConv2d(3, 4, kernel_size=3, padding=1) (the unit of pytorch-fid's FID Inception,
keys as in pt_inception-2015-12-05-6726825d.pth, num_batches_tracked included) with seeded random
weights, by torch.save; and in the safetensors the same float tensors plus x [2, 3, 5, 5] and its
eval-mode output y. The test reads the .pth through FIDInceptionV3.stateDictionary(contentsOf:).

Usage: /work/venv/bin/python scripts/reference/make_inception_pth_fixture.py   (torch, torchvision or pytorch-fid, safetensors)
"""
import os

import torch
from pytorch_fid.inception import fid_inception_v3  # noqa: F401  (pins the pytorch-fid this mirrors)
from safetensors.torch import save_file
from torchvision.models.inception import BasicConv2d

torch.manual_seed(20151205)
block = BasicConv2d(3, 4, kernel_size=3, padding=1).eval()
with torch.no_grad():
    for key, value in block.state_dict().items():
        if value.is_floating_point():
            value.copy_(torch.rand_like(value) * 0.5 + (0.75 if key.endswith(("running_var", "bn.weight")) else -0.25))
state = {k: v.clone().contiguous() for k, v in block.state_dict().items()}
x = torch.rand(2, 3, 5, 5) * 2 - 1
with torch.no_grad():
    y = block(x)
out = os.path.join(os.path.dirname(__file__), "../../Tests/MetricsTests/Fixtures")
torch.save(state, os.path.join(out, "basic_conv.pth"))
tensors = {k: v for k, v in state.items() if v.is_floating_point()}
tensors.update({"x": x.contiguous(), "y": y.contiguous()})
save_file(tensors, os.path.join(out, "basic_conv.safetensors"), metadata={"torch": torch.__version__, "seed": "20151205"})
print(f"wrote {len(state)} state tensors")
