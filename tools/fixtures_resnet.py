#!/usr/bin/python3
"""PyTorch twins of models/resnet.cpp and models/rmn.cpp (same structure, same parameter names),
for tools/make_fixtures.py, which imports MODELS from here.

Run directly to print the full-size parameter and MAC counts (MODELS.md conventions: conv,
transposed conv and linear MACs only) of every registry model:

    /usr/bin/python3 tools/fixtures_resnet.py
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled(c, width):
    return max(1, int(round(c * width)))


def projection(cin, cout, stride, bias, eps, momentum):
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=bias), nn.BatchNorm2d(cout, eps, momentum))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, bias=False, eps=1e-5, momentum=0.1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=bias)
        self.bn1 = nn.BatchNorm2d(cout, eps, momentum)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=bias)
        self.bn2 = nn.BatchNorm2d(cout, eps, momentum)
        self.downsample = projection(cin, cout, stride, bias, eps, momentum) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride, stride_on_1x1, bias, eps, momentum):
        super().__init__()
        cout = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, stride if stride_on_1x1 else 1, 0, bias=bias)
        self.bn1 = nn.BatchNorm2d(planes, eps, momentum)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1 if stride_on_1x1 else stride, 1, bias=bias)
        self.bn2 = nn.BatchNorm2d(planes, eps, momentum)
        self.conv3 = nn.Conv2d(planes, cout, 1, 1, 0, bias=bias)
        self.bn3 = nn.BatchNorm2d(cout, eps, momentum)
        self.downsample = projection(cin, cout, stride, bias, eps, momentum) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    """Stem, layer1..4 (torchvision names), then GAP or flatten, then self.fc."""

    def __init__(self, blocks, bottleneck=False, keras_v1=False, width=1.0):
        super().__init__()
        bias, eps, momentum = (True, 1.001e-5, 0.01) if keras_v1 else (False, 1e-5, 0.1)
        stem = scaled(64, width)
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=bias)
        self.bn1 = nn.BatchNorm2d(stem, eps, momentum)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = stem
        self.stage_channels = []
        for s in range(4):
            planes = scaled(64 << s, width)
            layer = []
            for b in range(blocks[s]):
                stride = 2 if (b == 0 and s > 0) else 1
                if bottleneck:
                    layer.append(Bottleneck(cin, planes, stride, keras_v1, bias, eps, momentum))
                    cin = planes * 4
                else:
                    layer.append(BasicBlock(cin, planes, stride, bias, eps, momentum))
                    cin = planes
            setattr(self, f"layer{s + 1}", nn.Sequential(*layer))
            self.stage_channels.append(cin)
        self.gap = True

    def after_stage(self, s, x):
        return x

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for s in range(4):
            x = self.after_stage(s, getattr(self, f"layer{s + 1}")(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1) if self.gap else torch.flatten(x, 1)
        return self.fc(x)


def resnet18_r001(num_classes=7, width=1.0):
    m = ResNet([2, 2, 2, 2], width=width)
    m.gap = False
    h1, h2 = scaled(1024, width), scaled(512, width)
    m.fc = nn.Sequential(nn.Linear(m.stage_channels[3] * 4, h1), nn.ReLU(), nn.Dropout(0.3), nn.Linear(h1, h2),
                         nn.ReLU(), nn.Linear(h2, num_classes))
    return m


def resnet34(num_classes=7, width=1.0):
    m = ResNet([3, 4, 6, 3], width=width)
    m.fc = nn.Linear(m.stage_channels[3], num_classes)
    return m


def resnet50_r002(num_classes=6, width=1.0):
    m = ResNet([3, 4, 6, 3], bottleneck=True, keras_v1=True, width=width)
    h1, h2 = scaled(256, width), scaled(128, width)
    m.fc = nn.Sequential(nn.Linear(m.stage_channels[3], h1), nn.ReLU(), nn.Dropout(0.5), nn.Linear(h1, h2), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(h2, num_classes))
    return m


class MaskingBlock(nn.Module):
    """RMN mask branch of `depth` over c channels; returns the logits z (names as masking.py, with the
    projections held only inside their blocks as `convK.downsample`)."""

    def __init__(self, c, depth):
        super().__init__()
        self.depth = depth
        for k in range(1, depth + 1):
            setattr(self, f"conv{k}", BasicBlock(c << (k - 1), c << k, 1))
        self.down_pooling = nn.MaxPool2d(2)
        for k in range(1, depth):
            hi, lo = c << (depth - k + 1), c << (depth - k)
            setattr(self, f"up_pool{depth + k}",
                    nn.Sequential(nn.ConvTranspose2d(hi, lo, 2, 2), nn.BatchNorm2d(lo), nn.ReLU()))
            setattr(self, f"conv{depth + k}", BasicBlock(hi, lo, 1))
        setattr(self, f"conv{2 * depth}", BasicBlock(2 * c, c, 1))

    def forward(self, x):
        d = self.depth
        skips, h = [], x
        for k in range(1, d + 1):
            if k > 1:
                h = self.down_pooling(h)
            h = getattr(self, f"conv{k}")(h)
            skips.append(h)
        for k in range(1, d):
            up = getattr(self, f"up_pool{d + k}")(h)
            h = getattr(self, f"conv{d + k}")(torch.cat([up, skips[d - 1 - k]], 1))
        return getattr(self, f"conv{2 * d}")(h)


class ResMasking(ResNet):
    def __init__(self, num_classes=7, width=1.0, head="dropout1", kind="softmax"):
        super().__init__([3, 4, 6, 3], width=width)
        c = self.stage_channels[3]
        if head == "plain":
            self.fc = nn.Linear(c, num_classes)
        elif head == "dropout1":
            self.fc = nn.Sequential(nn.Dropout(0.4), nn.Linear(c, num_classes))
        else:
            h = scaled(128, width)
            self.fc = nn.Sequential(nn.Linear(c, h), nn.ReLU(), nn.Dropout(0.5), nn.Linear(h, num_classes))
        for s in range(4):
            setattr(self, f"mask{s + 1}", MaskingBlock(self.stage_channels[s], 4 - s))
        self.kind = kind

    def after_stage(self, s, x):
        z = getattr(self, f"mask{s + 1}")(x)
        m = torch.softmax(z, 1) if self.kind == "softmax" else torch.sigmoid(z)
        return x * (1 + m)


def conditioned(model):
    """Kaiming-normal (fan_out, ReLU) conv weights, as torchvision's ResNet and the RMN masks start.
    PyTorch's default conv init shrinks activations layer after layer until BN's eps dominates the
    batch variance, and then fp32 rounding decides the gradients; this init keeps the fixture well
    conditioned (fp32 PyTorch agrees with fp64). BN stays at 1/0 (no zero-init, so every path carries
    gradient)."""
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
    return model


class _Fp64Reference:
    """Mixin: the forward runs a float64 copy of the network on float64 casts of the (float32)
    parameters, buffers and input, and returns float32 logits. Parameter names, dtypes and the
    optimizer stay float32, but logits, gradients and BN statistics are fp64-accurate. Deep random
    ResNets are ill-conditioned (a 1e-7 relative input change moves ResNet50's gradients by ~3e-4),
    so an fp32 reference would only agree with fer's fp32 to ~1e-2; fer's test runs its model in
    float64 against this reference instead."""

    def forward(self, x):
        from torch.nn.utils.stateless import functional_call
        twin = self.__dict__["_twin64"]
        for mine, its in zip(self.modules(), twin.modules()):  # train/eval (dropout off) as set on self
            its.training = mine.training
        state = {n: p.double() for n, p in self.named_parameters()}
        bufs = {n: (b.double() if b.is_floating_point() else b.clone()) for n, b in self.named_buffers()}
        state.update(bufs)
        out = functional_call(twin, state, (x.double(),))
        with torch.no_grad():
            for n, b in self.named_buffers():
                b.copy_(bufs[n])
        return out.float()


def fp64_reference(model):
    import copy
    twin = copy.deepcopy(model).double()
    model.__dict__["_twin64"] = twin
    model.__class__ = type("Fp64" + type(model).__name__, (_Fp64Reference, type(model)), {})
    return model


MODELS = {
    # name: (constructor, config, input shape)
    "resnet18": (lambda cfg: conditioned(resnet18_r001(cfg["num_classes"], cfg["width"])), {"num_classes": 7, "width": 0.0625, "init": "kaiming_normal fan_out convs"},
                 (4, 3, 48, 48)),
    "resnet34": (lambda cfg: conditioned(resnet34(cfg["num_classes"], cfg["width"])), {"num_classes": 7, "width": 0.05, "init": "kaiming_normal fan_out convs"},
                 (4, 3, 48, 48)),
    "rmn": (lambda cfg: fp64_reference(conditioned(ResMasking(cfg["num_classes"], cfg["width"], cfg["head"], cfg["kind"]))),
            {"num_classes": 7, "width": 0.024, "head": "dropout1", "kind": "softmax", "reference": "fp64", "init": "kaiming_normal fan_out convs"}, (3, 3, 64, 64)),
    "resnet50": (lambda cfg: fp64_reference(conditioned(resnet50_r002(cfg["num_classes"], cfg["width"]))), {"num_classes": 6, "width": 0.0625, "reference": "fp64", "init": "kaiming_normal fan_out convs"},
                 (4, 3, 48, 48)),
}


def count(model, shape):
    macs = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            macs[0] += out.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.ConvTranspose2d):
            x = inp[0]
            macs[0] += mod.in_channels * mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1] * x.shape[2] * x.shape[3]
        elif isinstance(mod, nn.Linear):
            macs[0] += mod.in_features * mod.out_features

    hs = [m.register_forward_hook(hook) for m in model.modules()]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(shape))
    for h in hs:
        h.remove()
    return sum(p.numel() for p in model.parameters()), macs[0]


if __name__ == "__main__":
    for name, ctor, size in [("resnet18", resnet18_r001, 48), ("resnet34", resnet34, 224),
                             ("resnet50", resnet50_r002, 48), ("rmn", ResMasking, 224)]:
        m = ctor()
        p, macs = count(m, (1, 3, size, size))
        fc = sum(q.numel() for q in m.fc.parameters())
        print(f"{name}: params {p} (head {fc}, body {p - fc}), MACs {macs}")
    for head in ["plain", "dropout2"]:
        print(f"rmn {head}: params {count(ResMasking(head=head), (1, 3, 224, 224))[0]}")
