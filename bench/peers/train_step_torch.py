#!/usr/bin/env python3
"""PyTorch twins of bench/bench_train_step.cpp: whole training steps, images/s and peak memory.

The models are the PyTorch twins fer's golden tests already use (tools/make_fixtures.py and
tools/fixtures_*.py: same structure and parameter names as models/*.cpp), built at full width:
    cnn6      make_fixtures.CNN6            1x48x48
    vggnet    fixtures_vgg.VggNet           1x40x40, ten-crop batch: B images -> 10 B crops
    resnet18  fixtures_resnet.resnet18_r001 3x48x48
    unet      fixtures_r003.AttentionUNet   1x48x48
    rmn       fixtures_resnet.ResMasking    3x224x224 (resmasking_dropout1, softmax masks)
    efficientnet-b0  fixtures_efficientnet.EfficientNetB0  3x48x48 (R002; depthwise convolutions)

One step (as fer's bench): logits = model(x); loss = cross_entropy(logits, y); loss.backward();
SGD(lr 0.01, momentum 0.9).step(); zero_grad(); then a device synchronisation. The batch is a fixed
random tensor (data loading is not timed). Warm-up steps first (they include torch.compile's
compilation), then torch.cuda.reset_peak_memory_stats() and `iters` timed steps; peak_mib is
torch.cuda.max_memory_allocated() over those steps.

Modes (--modes, comma-separated):
    eager          fp32, NCHW
    eager_cl_bf16  channels_last model and input, torch.autocast(bf16)   ("AMP" of issue 6)
    compile        torch.compile(model), fp32
    compile_cl_bf16  both
A mode this torch cannot run (torch.compile before 2.0, bf16 autocast without support) is reported
as skipped on stderr and left out of the CSV.

CSV columns (the same as bench_train_step's summary):
    impl,model,device,precision,batch,inputs,images_per_s,step_ms,peak_mib
with impl "torch_<mode>", precision fp32 or bf16, peak_mib -1 on the CPU.

Usage (GPU session, next to build-gpu/bin/bench_train_step):
    python3 bench/peers/train_step_torch.py --csv $OUT/peers_train_step.csv
CPU smoke test (tiny sizes):
    python3 bench/peers/train_step_torch.py --device cpu --batch 2 --iters 1 --warmup 1 --models cnn6 --modes eager
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))

import fixtures_efficientnet  # noqa: E402
import fixtures_r003  # noqa: E402
import fixtures_resnet  # noqa: E402
import fixtures_vgg  # noqa: E402
import make_fixtures  # noqa: E402

# name: (constructor, input channels, input size, crops per image)
MODELS = {
    "cnn6": (lambda: make_fixtures.CNN6(7, 1.0), 1, 48, 1),
    "vggnet": (lambda: fixtures_vgg.VggNet(7, 1.0), 1, 40, 10),
    "resnet18": (lambda: fixtures_resnet.resnet18_r001(7, 1.0), 3, 48, 1),
    "unet": (lambda: fixtures_r003.AttentionUNet(7, 1.0), 1, 48, 1),
    "rmn": (lambda: fixtures_resnet.ResMasking(7, 1.0, "dropout1", "softmax"), 3, 224, 1),
    "efficientnet-b0": (lambda: fixtures_efficientnet.EfficientNetB0(7, 1.0), 3, 48, 1),
}
MODES = ["eager", "eager_cl_bf16", "compile", "compile_cl_bf16"]
COLUMNS = "impl,model,device,precision,batch,inputs,images_per_s,step_ms,peak_mib"


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def run(name, mode, device, batch, iters, warmup):
    ctor, channels, size, crops = MODELS[name]
    torch.manual_seed(0)
    model = ctor().to(device)
    model.train()
    inputs = batch * crops
    x = torch.rand(inputs, channels, size, size, device=device)
    y = torch.arange(inputs, device=device) % 7
    channels_last = mode.endswith("cl_bf16")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    fwd = model
    if mode.startswith("compile"):
        if not hasattr(torch, "compile"):
            raise RuntimeError(f"torch {torch.__version__} has no torch.compile")
        fwd = torch.compile(model)

    def step():
        if channels_last:
            with torch.autocast(device_type=device, dtype=torch.bfloat16):
                logits = fwd(x)
                loss = F.cross_entropy(logits.float(), y)
        else:
            logits = fwd(x)
            loss = F.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        sync(device)

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    seconds = sum(times) / len(times)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else -1.0
    del model, fwd, opt, x, y
    if device == "cuda":
        torch.cuda.empty_cache()
    precision = "bf16" if channels_last else "fp32"
    return (f"torch_{mode},{name},{device},{precision},{batch},{inputs},{batch / seconds:.1f},"
            f"{seconds * 1e3:.3f},{peak:.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    # the default matches bench_train_step's (efficientnet-b0 on request: torch.compile of it is slow)
    ap.add_argument("--models", default="cnn6,vggnet,resnet18,unet,rmn")
    ap.add_argument("--modes", default="eager,eager_cl_bf16,compile")
    ap.add_argument("--batch", type=int, default=None, help="batch of the 48x48 models (cuda 64, cpu 4)")
    ap.add_argument("--rmn-batch", type=int, default=None, help="rmn batch (cuda 48, cpu 1)")
    ap.add_argument("--iters", type=int, default=None, help="timed steps (cuda 20, rmn a quarter; cpu 2)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--csv", default=None, help="also write the rows to this file")
    args = ap.parse_args()
    cuda = args.device == "cuda"
    batch = args.batch or (64 if cuda else 4)
    rmn_batch = args.rmn_batch or (48 if cuda else 1)
    iters = args.iters or (20 if cuda else 2)
    if cuda:
        torch.backends.cudnn.benchmark = True  # PyTorch's best conv algorithms, as fer's bench uses cudnnFind
        print(f"# {torch.cuda.get_device_name()} torch {torch.__version__} cuDNN {torch.backends.cudnn.version()}",
              file=sys.stderr)
    rows = [COLUMNS]
    for name in [m for m in args.models.split(",") if m]:
        if name not in MODELS:
            sys.exit(f"unknown model '{name}'; known: {', '.join(MODELS)}")
        for mode in [m for m in args.modes.split(",") if m]:
            if mode not in MODES:
                sys.exit(f"unknown mode '{mode}'; known: {', '.join(MODES)}")
            b = rmn_batch if name == "rmn" else (2 if name == "vggnet" and not cuda else batch)
            n = max(1, iters // 4) if name == "rmn" and cuda else iters
            try:
                row = run(name, mode, args.device, b, n, args.warmup)
            except Exception as e:  # noqa: BLE001  (a mode this torch lacks: reported, not fatal)
                print(f"skipped: {name} {mode}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                      file=sys.stderr)
                continue
            print(row, flush=True)
            rows.append(row)
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    print(COLUMNS, flush=True)
    main()
