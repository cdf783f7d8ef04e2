#!/usr/bin/env python3
"""PyTorch baseline for `ddpm bench inception`: pytorch-fid's InceptionV3 (the FID variant, 2048-d
pool3 block, resize_input and normalize_input as in real use) on `--count` random 32x32 images,
random weights (nothing is downloaded), eval mode, no_grad, float32, 2 threads. One warm-up batch,
then one timed pass over all images. Prints one JSON object on stdout.

Usage: python3 torch_inception.py [--count 10000] [--batch-size 25] [--threads 2]   (torch, pytorch-fid)
"""
import argparse
import json
import time
from unittest import mock

import torch
import torchvision
from pytorch_fid import inception as pfi


def fid_inception_random():
    """InceptionV3 as pytorch-fid builds it, keeping the random initial weights instead of loading."""
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(torchvision.models.inception.Inception3, "load_state_dict", lambda self, *a, **k: None):
        return pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--batch-size", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = fid_inception_random()
    images = torch.rand(a.count, 3, 32, 32)  # [0, 1], pytorch-fid's input convention
    with torch.no_grad():
        model(images[: min(a.batch_size, a.count)])
        start = time.perf_counter()
        for i in range(0, a.count, a.batch_size):
            pool = model(images[i:i + a.batch_size])[0]
        seconds = time.perf_counter() - start
    assert pool.shape[1:] == (2048, 1, 1)
    print(json.dumps({"seconds": seconds, "count": a.count, "batch": a.batch_size, "images_per_second": a.count / seconds,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
