#!/usr/bin/python3
"""Golden fixtures for fer's model tests, computed with PyTorch (Debian's python3-torch, CPU).

Never needed to build or test fer: the fixtures are committed under tests/fixtures/. Run it again
only when a model's definition changes:

    /usr/bin/python3 tools/make_fixtures.py [--out tests/fixtures] [--only cnn6]

For each model it writes <name>.safetensors holding
    param/<name>   the initial weights (PyTorch's default init under a fixed seed)
    buffer/<name>  BatchNorm running statistics after the training-mode forward below
    input          one batch [B, C, H, W] in [0, 1]
    labels         int32 [B]
    class_weights  f32 [K] used by the weighted cross-entropy
    logits         f32 [B, K] from the training-mode forward (dropout disabled: p has no
                   counterpart in PyTorch's RNG, so dropout modules run in eval mode)
    loss           weighted cross-entropy (mean over summed target weights)
    (config "loss": "mse", the autoencoder: no labels, class_weights or logits, but
    output         the reconstruction, and loss = MSE of output against input; "input_scale"
                   scales the input, "sgd_lr" replaces the curve's lr 0.01)
    grad/<name>    dloss/dparam for every parameter
    curve          f32 [10]: the loss over 10 SGD steps (lr 0.01, momentum 0.9) on the same batch
and metadata: model, config, torch version, protocol. Names are the PyTorch state-dict names,
which fer's modules reproduce.

Models are reduced in width where needed so each file stays well under 1 MB; the tests build the
same width through the registry's `width` option.
"""
import argparse
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- the PyTorch twins of fer's models (same structure, same parameter names) ---------------

class CNN6(nn.Module):
    """R001's six-conv CNN (MODELS.md 3.1), width-scaled like models/cnn6.cpp."""

    def __init__(self, num_classes=7, width=1.0):
        super().__init__()
        w = lambda c: max(1, int(round(c * width)))
        widths = [w(16), w(32), w(64), w(128), w(256), w(256)]
        cin = 1
        for i, c in enumerate(widths, 1):
            setattr(self, f"conv{i}", nn.Conv2d(cin, c, 3, 1, 0, bias=True))
            setattr(self, f"bn{i}", nn.BatchNorm2d(c))
            cin = c
        self.pool = nn.MaxPool2d(2, 2)
        self.drop_conv = nn.Dropout(0.2)
        self.fc1 = nn.Linear(widths[5] * 4, w(512))
        self.drop_fc = nn.Dropout(0.5)
        self.fc2 = nn.Linear(w(512), num_classes)

    def forward(self, x):
        for i in range(1, 7):
            x = F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
            if i % 2 == 0:
                x = self.drop_conv(self.pool(x))
        x = self.drop_fc(F.relu(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)


MODELS = {
    # name: (constructor, config, input shape)
    "cnn6": (lambda cfg: CNN6(cfg["num_classes"], cfg["width"]), {"num_classes": 7, "width": 0.25}, (4, 1, 48, 48)),
}
from fixtures_r003 import MODELS as _R003_MODELS  # noqa: E402  (unet, vit)
MODELS.update(_R003_MODELS)
from fixtures_efficientnet import MODELS as _EFFICIENTNET_MODELS  # noqa: E402  (efficientnet-b0)
MODELS.update(_EFFICIENTNET_MODELS)

import fixtures_vgg  # noqa: E402  (tools/fixtures_vgg.py: the VGG family and the shallow CNN)
MODELS.update(fixtures_vgg.MODELS)
from fixtures_resnet import MODELS as _RESNET_MODELS  # noqa: E402  (tools/fixtures_resnet.py)
MODELS.update(_RESNET_MODELS)


# ---- safetensors writer (Debian has no safetensors package; the format is simple) --------------

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int32: "I32", torch.int64: "I64", torch.uint8: "U8"}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def make_fixture(name, out_dir):
    ctor, cfg, in_shape = MODELS[name]
    torch.manual_seed(1234)
    model = ctor(cfg)
    params0 = {k: v.detach().clone() for k, v in model.named_parameters()}
    gen = torch.Generator().manual_seed(99)
    x = torch.rand(in_shape, generator=gen) * cfg.get("input_scale", 1.0)
    mse = cfg.get("loss") == "mse"  # no classes (the autoencoder): MSE of the output against the input
    k = max(1, cfg["num_classes"])
    labels = torch.arange(in_shape[0]) % k
    class_weights = torch.linspace(0.5, 2.0, k)
    criterion = (lambda out: F.mse_loss(out, x)) if mse else (lambda out: F.cross_entropy(out, labels, weight=class_weights))

    def set_mode(m):
        m.train()
        for mod in m.modules():
            if isinstance(mod, nn.Dropout):
                mod.eval()

    set_mode(model)
    logits = model(x)
    loss = criterion(logits)
    model.zero_grad()
    loss.backward()
    tensors = {"input": x, "labels": labels.to(torch.int32), "class_weights": class_weights,
               "logits": logits, "loss": loss.reshape(())}
    if mse:
        tensors = {"input": x, "output": logits, "loss": loss.reshape(())}
    for k_, v in params0.items():
        tensors["param/" + k_] = v
    for k_, p in model.named_parameters():
        tensors["grad/" + k_] = p.grad
    for k_, b in model.named_buffers():
        tensors["buffer/" + k_] = b

    # 10 SGD steps on the same batch from the same start (buffers restart too).
    model2 = ctor(cfg)
    with torch.no_grad():
        for k_, p in model2.named_parameters():
            p.copy_(params0[k_])
    set_mode(model2)
    lr = cfg.get("sgd_lr", 0.01)
    opt = torch.optim.SGD(model2.parameters(), lr=lr, momentum=0.9)
    curve = []
    for _ in range(10):
        opt.zero_grad()
        l = criterion(model2(x))
        curve.append(l.item())
        l.backward()
        opt.step()
    tensors["curve"] = torch.tensor(curve, dtype=torch.float32)

    meta = {"model": name, "config": json.dumps(cfg), "torch": torch.__version__,
            "protocol": "train-mode forward, dropout in eval mode, " + ("MSE of the output against the input" if mse else
                        "weighted CE (mean over target weights)") + "; "
                        f"curve: SGD lr {lr} momentum 0.9, 10 steps, same batch"}
    path = os.path.join(out_dir, name + ".safetensors")
    write_safetensors(path, tensors, meta)
    print(f"{path}: {os.path.getsize(path)} bytes, loss {loss.item():.6f}, params "
          f"{sum(p.numel() for p in model.parameters())}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
    ap.add_argument("--only", nargs="*", help="model names (default: all)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.only or MODELS:
        make_fixture(name, args.out)


if __name__ == "__main__":
    main()
