"""Writes the small TorchCheckpoint test fixtures (Tests/TorchCheckpointTests/Fixtures/).

Run with the project venv: `python scripts/reference/make_torch_checkpoint_fixtures.py`.
Every .bin is written by `torch.save`; `state.safetensors` holds contiguous float32 copies of the
same tensors, so the Swift reader can be checked against the safetensors reader it already trusts.
The hostile file is only *written* here: pickling an object whose __reduce__ names os.system
stores the reference; nothing is executed until something unpickles it, which no code here does.
"""
import os
import pathlib
import struct
import zipfile

import torch
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests" / "TorchCheckpointTests" / "Fixtures"


def state_dict():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, 5, generator=g)
    shared = torch.arange(12, dtype=torch.float32)
    d = {
        "float32": torch.randn(3, 4, generator=g),
        "float16": torch.randn(2, 3, generator=g).half(),
        "bfloat16": torch.randn(4, generator=g).bfloat16(),
        "float64": torch.randn(2, 2, 2, generator=g).double(),
        "int64": torch.tensor([[-3, 0, 7], [2**40, -(2**20), 5]], dtype=torch.int64),
        "int32": torch.tensor([1, -2, 3], dtype=torch.int32),
        "transposed": base.t(),                 # non-contiguous: stride (1, 5)
        "sliced": base[2:5, 1:4],               # storage offset 11, stride (5, 1)
        "shared.a": shared[:6].view(2, 3),      # two views of one storage
        "shared.b": shared[4:].view(2, 4),
        "parameter": torch.nn.Parameter(torch.randn(2, 2, generator=g)),
        "scalar": torch.tensor(2.5),
        "nested.conv.weight": torch.randn(2, 1, 3, 3, generator=g).permute(0, 2, 3, 1),
        "empty": torch.zeros(0, 3),
    }
    assert not d["transposed"].is_contiguous() and d["sliced"].storage_offset() == 11
    return d


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    d = state_dict()
    torch.save(d, OUT / "state.bin")                                  # default: zip, protocol 2
    torch.save(d, OUT / "state_protocol4.bin", pickle_protocol=4)
    torch.save(d, OUT / "state_protocol5.bin", pickle_protocol=5)
    # A model's state_dict() is an OrderedDict carrying `_metadata` (restored with BUILD).
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.GroupNorm(1, 2))
    torch.manual_seed(1)
    for p in model.parameters():
        torch.nn.init.normal_(p)
    torch.save(model.state_dict(), OUT / "module.bin")
    twin = {k: v.detach().float().contiguous().clone() for k, v in d.items()}
    twin.update({f"module.{k}": v.float().contiguous().clone() for k, v in model.state_dict().items()})
    save_file(twin, OUT / "state.safetensors")

    class Hostile:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"weight": torch.ones(2), "payload": Hostile()}, OUT / "hostile.bin")
    torch.save({"ok": torch.ones(2), "complex": torch.ones(2, dtype=torch.complex64)}, OUT / "complex.bin")
    torch.save({"mask": torch.tensor([True, False])}, OUT / "bool.bin")
    # A training checkpoint: nested dicts flatten to dotted keys; non-tensor entries are skipped.
    torch.save({"model": {"w": torch.tensor([1.0, -1.0]), "sub": {"b": torch.tensor(3.0)}}, "epoch": 3,
                "name": "run", "lr": 2e-4, "steps": [1, 2]}, OUT / "nested.bin", pickle_protocol=4)

    data = (OUT / "state.bin").read_bytes()
    (OUT / "truncated.bin").write_bytes(data[: len(data) // 2])
    # One flipped byte inside the first storage: the zip stays readable, its CRC-32 does not match.
    with zipfile.ZipFile(OUT / "state.bin") as z:
        info = z.getinfo("state/data/0")
    # The local header's name and extra-field lengths (torch pads the extra field for alignment).
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    corrupt = bytearray(data)
    corrupt[start + 5] ^= 0xFF
    (OUT / "corrupt.bin").write_bytes(bytes(corrupt))
    # Legacy (pre-1.6) format: a bare pickle stream rather than a zip.
    torch.save({"w": torch.ones(2)}, OUT / "legacy.bin", _use_new_zipfile_serialization=False)

    total = sum(p.stat().st_size for p in OUT.iterdir())
    for p in sorted(OUT.iterdir()):
        print(f"{p.stat().st_size:8d}  {p.name}")
    assert total < 200_000, f"fixtures total {total} bytes"
    with zipfile.ZipFile(OUT / "state.bin") as z:
        print(z.namelist()[:4], "...")


if __name__ == "__main__":
    main()
