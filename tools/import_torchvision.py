#!/usr/bin/env python3
"""Pretrained weights for fertrain --init-from: torchvision's ImageNet weights (or any PyTorch
state_dict) as a safetensors file.

fer's backbones use torchvision's parameter names (resnet18, resnet34, the RMN's ResNet34, vgg11's
`features`, efficientnet-b0), so the file loads into them by name: fertrain --init-from loads every
tensor whose name and shape match, keeps the model's own head (its shapes differ from ImageNet's
1000 classes) and prints what it loaded and what it left. The reports R000-R002 start from such
weights; without them fer trains from random initialisation.

Run it where PyTorch and torchvision are installed (pip or Debian's python3-torchvision) and, for
--weights other than none, where torchvision can download (or has cached) the weights:

    python3 tools/import_torchvision.py --arch resnet34 --out resnet34-imagenet.safetensors
    build/bin/fertrain --recipe r000-rmn --data fer2013 --init-from resnet34-imagenet.safetensors

    python3 tools/import_torchvision.py --state-dict model.pth --strip-prefix module. --out model.safetensors
    python3 tools/import_torchvision.py --manifest tests/fixtures/torchvision_state_dicts.json

--manifest writes the names, shapes and dtypes of the four architectures' state_dicts (no weights,
no download) for tests/unit/test_checkpoint_transfer.cpp, which holds fer's models to them.

Models and their torchvision architecture: resnet18 (R001) <- resnet18; rmn (R000) and resnet34 <-
resnet34; vgg11 (R001) <- vgg11; efficientnet-b0 (R002) <- efficientnet_b0. R002's Keras models
(vgg16, resnet50) name their layers after Keras, not torchvision.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import DTYPES, write_safetensors  # noqa: E402

ARCHS = ["resnet18", "resnet34", "vgg11", "efficientnet_b0"]


def torchvision_model(arch, weights):
    import torchvision
    builder = getattr(torchvision.models, arch)
    if weights == "none":
        return builder(weights=None), "random initialisation"
    try:
        enum = torchvision.models.get_model_weights(arch)
        w = enum.DEFAULT if weights == "DEFAULT" else enum[weights]
    except (AttributeError, KeyError) as e:
        sys.exit(f"import_torchvision: --weights {weights} is not a weight set of {arch} ({e})")
    try:
        return builder(weights=w), f"{w}"
    except OSError as e:  # urllib's URLError included
        sys.exit(f"import_torchvision: could not get {arch}'s {w} weights ({e}); hint: run where torchvision can "
                 f"download them, or place the file torchvision names in ~/.cache/torch/hub/checkpoints/")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--arch", choices=ARCHS, help="a torchvision architecture")
    src.add_argument("--state-dict", help="a PyTorch file holding a state_dict (or {'state_dict': ...}, {'model': ...})")
    src.add_argument("--manifest", help="write the names/shapes/dtypes of the architectures' state_dicts to this JSON")
    ap.add_argument("--weights", default="DEFAULT", help="torchvision weight set (DEFAULT, IMAGENET1K_V1, ...) or none")
    ap.add_argument("--strip-prefix", default="", help="remove this prefix from every name (e.g. 'module.')")
    ap.add_argument("--out", help="the safetensors file to write")
    a = ap.parse_args()

    if a.manifest:
        import torchvision
        out = {arch: [[k, list(v.shape), str(v.dtype).replace("torch.", "")]
                      for k, v in getattr(torchvision.models, arch)(weights=None).state_dict().items()]
               for arch in ARCHS}
        text = "{\n" + ",\n".join(f'"{arch}": [\n' + ",\n".join(json.dumps(e) for e in rows) + "\n]"
                                  for arch, rows in out.items()) + "\n}\n"
        with open(a.manifest + ".tmp", "w") as f:
            f.write(text)
        os.replace(a.manifest + ".tmp", a.manifest)
        print(f"import_torchvision: {a.manifest}: {', '.join(f'{k} ({len(v)} tensors)' for k, v in out.items())}")
        return
    if not a.out:
        ap.error("--out FILE is required with --arch or --state-dict")
    if a.state_dict and a.weights != "DEFAULT":
        ap.error("--weights applies to --arch (a torchvision weight set), not to --state-dict")

    if a.arch:
        model, source = torchvision_model(a.arch, a.weights)
        state = model.state_dict()
        source = f"torchvision {a.arch} ({source})"
    else:
        try:  # tensors only: a pickle could run code
            state = torch.load(a.state_dict, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 (the reason goes to the user)
            sys.exit(f"import_torchvision: cannot read {a.state_dict} as a state_dict of tensors ({e})")
        for key in ("state_dict", "model", "net"):
            if isinstance(state, dict) and key in state and isinstance(state[key], dict):
                state = state[key]
        if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
            sys.exit(f"import_torchvision: {a.state_dict} holds no state_dict (a dict of name -> tensor)")
        source = os.path.basename(a.state_dict)
    tensors = {}
    for name, t in state.items():
        original = name
        if a.strip_prefix and name.startswith(a.strip_prefix):
            name = name[len(a.strip_prefix):]
        if name in tensors:
            sys.exit(f"import_torchvision: '{original}' becomes '{name}' with --strip-prefix {a.strip_prefix}, "
                     f"a name the file already has")
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()  # the writer (numpy) has no bf16; fer converts f32 to the model's dtype on load
        if t.dtype not in DTYPES:
            sys.exit(f"import_torchvision: '{original}' is {t.dtype}; fer reads "
                     f"{', '.join(str(d).replace('torch.', '') for d in DTYPES)}")
        tensors[name] = t
    write_safetensors(a.out, tensors, {"format": "pytorch-state-dict", "source": source})
    values = sum(t.numel() for t in tensors.values())
    print(f"import_torchvision: {a.out}: {len(tensors)} tensors, {values / 1e6:.2f} M values from {source}")


if __name__ == "__main__":
    main()
