#!/usr/bin/python3
"""Does PyTorch load a fer checkpoint, and does it then predict what fer predicts?

fer writes its weights as safetensors under PyTorch's state-dict names, so that

    model.load_state_dict(safetensors.torch.load_file("runs/.../best.safetensors"))

works on the PyTorch twin of the model. This script proves it for one checkpoint, with Debian's
python3-torch (no safetensors package needed: the format is read here):

    /usr/bin/python3 tools/torch_load_check.py --checkpoint runs/cnn6-.../best.safetensors \
        --ferpredict build/bin/ferpredict [--images 8] [--tol 1e-4] [--work DIR]

1. reads the checkpoint (tensors and fer's metadata: model, width, classes);
2. builds the PyTorch twin (tools/make_fixtures.py's MODELS) and calls load_state_dict(strict=True):
   every name and shape must match, none missing, none extra;
3. writes N seeded random 48x48 gray PNGs, runs `ferpredict --json` on them, and compares fer's
   class probabilities with softmax(model(x)) in eval mode (x = pixels / 255, gray replicated for
   3-channel models): PASS when the largest difference is <= --tol.
Exit 0 on PASS, 1 on a mismatch, 2 on a usage error. `--perturb` adds 0.5 to one weight (the head's first
bias) after loading (a self-test: the comparison must then fail).

Never needed to build or test fer; tests/tools/test_torch_interop.cpp runs it when PyTorch is
installed and skips visibly otherwise.
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import MODELS  # noqa: E402  (the PyTorch twins of fer's models)

TORCH_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64, "U8": torch.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: {len(data)} bytes, too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} runs past the end of the file ({len(data)} bytes)")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    body = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = TORCH_DTYPES[info["dtype"]]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, meta


def write_gray_png(path, width, height, pixels):
    raw = b"".join(b"\x00" + bytes(pixels[r * width:(r + 1) * width]) for r in range(height))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="a fer checkpoint (best.safetensors of a fertrain run)")
    ap.add_argument("--ferpredict", required=True, help="path of fer's ferpredict binary")
    ap.add_argument("--images", type=int, default=8, help="random test images (default 8)")
    ap.add_argument("--tol", type=float, default=1e-4, help="largest allowed probability difference")
    ap.add_argument("--work", default=None, help="folder for the test images (default: beside the checkpoint)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--perturb", action="store_true", help="self-test: change one weight after loading")
    args = ap.parse_args()

    try:
        tensors, meta = read_safetensors(args.checkpoint)
        name = meta["fer.model"]
        config = json.loads(meta["fer.config"])
        classes = json.loads(meta["fer.classes"])
    except (OSError, ValueError, KeyError) as e:
        print(f"torch_load_check: error: {args.checkpoint}: {e!r} (expected a fer checkpoint with fer.model, "
              f"fer.config and fer.classes metadata)", file=sys.stderr)
        return 2
    if name not in MODELS:
        print(f"torch_load_check: error: no PyTorch twin of model '{name}' (known: {', '.join(sorted(MODELS))})",
              file=sys.stderr)
        return 2
    ctor, default_cfg, in_shape = MODELS[name]
    _, channels, height, width = in_shape
    if height != 48 or width != 48:
        print(f"torch_load_check: error: {name} takes {height}x{width} inputs; this check feeds 48x48 images only",
              file=sys.stderr)
        return 2
    cfg = dict(default_cfg)
    cfg["num_classes"] = len(classes)
    cfg["width"] = float(config.get("width", 1.0))
    if "depth" in cfg:  # the ViT's block count: the fixtures use fewer blocks than the registry model
        cfg["depth"] = len({k.split(".")[1] for k in tensors if k.startswith("blocks.")})
    torch.manual_seed(0)
    model = ctor(cfg)
    if hasattr(model, "double") and any(p.dtype == torch.float64 for p in model.parameters()):
        model = model.float()
    state = {k: v for k, v in tensors.items()}
    try:
        result = model.load_state_dict(state, strict=True)  # raises on a missing, extra or mis-shaped tensor
    except RuntimeError as e:
        print(f"{name}: PyTorch's load_state_dict(strict=True) refused {args.checkpoint}:\n{e}\nFAIL")
        return 1
    print(f"loaded {args.checkpoint} into PyTorch's {type(model).__name__} (strict): {len(state)} tensors, "
          f"{sum(p.numel() for p in model.parameters())} parameters; {result}")
    if args.perturb:
        with torch.no_grad():
            list(model.parameters())[-1].view(-1)[0] += 0.5  # the head's bias of class 0, usually
        print("perturbed the last parameter's first element by +0.5 (self-test: expect FAIL)")
    model.eval()

    work = args.work or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "torch_load_check")
    os.makedirs(work, exist_ok=True)
    rng = random.Random(args.seed)
    paths, batch = [], []
    for i in range(args.images):
        pixels = [rng.randrange(256) for _ in range(48 * 48)]
        path = os.path.join(work, f"random_{i:02d}.png")
        write_gray_png(path, 48, 48, pixels)
        paths.append(path)
        batch.append(torch.tensor(pixels, dtype=torch.float32).reshape(1, 48, 48) / 255.0)
    x = torch.stack(batch)
    if channels == 3:
        x = x.repeat(1, 3, 1, 1)
    with torch.no_grad():
        torch_probs = torch.softmax(model(x).double(), dim=1)

    out = subprocess.run([args.ferpredict, "--checkpoint", args.checkpoint, "--json"] + paths,
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"torch_load_check: error: ferpredict exited {out.returncode}:\n{out.stderr}", file=sys.stderr)
        return 2
    fer = json.loads(out.stdout)
    by_file = {p["file"]: p["probabilities"] for p in fer["predictions"]}
    worst, where = 0.0, ""
    agree = 0
    for i, path in enumerate(paths):
        probs = by_file[path]
        fer_row = [probs[c] for c in classes]
        diffs = [abs(a - float(b)) for a, b in zip(fer_row, torch_probs[i].tolist())]
        if max(diffs) > worst:
            worst, where = max(diffs), f"{os.path.basename(path)} class {classes[diffs.index(max(diffs))]}"
        agree += int(max(range(len(classes)), key=lambda k: fer_row[k]) == int(torch_probs[i].argmax()))
    verdict = "PASS" if worst <= args.tol else "FAIL"
    print(f"{name} (width {cfg['width']}, {len(classes)} classes), {args.images} images: largest |p_fer - p_torch| "
          f"{worst:.3g} at {where} (tolerance {args.tol:g}); top class equal on {agree}/{args.images}; {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
