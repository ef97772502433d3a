"""PyTorch twin of R002's EfficientNet-B0 + 3-layer MLP head (MODELS.md 4.3, 4.4) for make_fixtures.py.

torchvision's layout and state-dict names (features.0..8, MBConv `block` + `stochastic_depth`,
SqueezeExcitation fc1/fc2), written out here because Debian ships no torchvision; same structure as
models/efficientnet.cpp, width-scaled the same way. The fixture uses width 0.125 (channels 4, 2, 3,
5, 10, 14, 24, 40, 160; head 32-16-6) and batch 4 of 3x48x48, and is built with drop-path rate 0
(the C++ test runs its DropPath modules in eval mode): drop-path draws have no counterpart in
PyTorch's RNG, like dropout.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

B0 = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
      (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]


def _w(c, width):
    return max(1, int(round(c * width)))


def conv_bn(cin, cout, k, s, groups, act):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, c, squeeze):
        super().__init__()
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.silu(self.fc1(s))))


class StochasticDepth(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.empty(x.shape[0], 1, 1, 1).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class MBConv(nn.Module):
    def __init__(self, e, k, s, cin, cout, p):
        super().__init__()
        hidden = cin * e
        self.use_res = s == 1 and cin == cout
        layers = []
        if e != 1:
            layers.append(conv_bn(cin, hidden, 1, 1, 1, True))
        layers += [conv_bn(hidden, hidden, k, s, hidden, True), SqueezeExcitation(hidden, max(1, cin // 4)),
                   conv_bn(hidden, cout, 1, 1, 1, False)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(p)

    def forward(self, x):
        y = self.block(x)
        return self.stochastic_depth(y) + x if self.use_res else y


class EfficientNetB0(nn.Module):
    def __init__(self, num_classes=6, width=1.0, drop_path=0.2):
        super().__init__()
        w = lambda c: _w(c, width)
        total = sum(r for *_, r in B0)
        feats = [conv_bn(3, w(32), 3, 2, 1, True)]
        i = 0
        for e, k, s, cin, cout, r in B0:
            stage = []
            for j in range(r):
                stage.append(MBConv(e, k, s if j == 0 else 1, w(cin) if j == 0 else w(cout), w(cout),
                                    drop_path * i / total))
                i += 1
            feats.append(nn.Sequential(*stage))
        feats.append(conv_bn(w(320), w(1280), 1, 1, 1, True))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Linear(w(1280), w(256)), nn.ReLU(), nn.Dropout(0.5),
                                        nn.Linear(w(256), w(128)), nn.ReLU(), nn.Dropout(0.5),
                                        nn.Linear(w(128), num_classes))

    def forward(self, x):
        return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


MODELS = {
    "efficientnet-b0": (lambda cfg: EfficientNetB0(cfg["num_classes"], cfg["width"], cfg["drop_path"]),
                        {"num_classes": 6, "width": 0.125, "drop_path": 0.0}, (4, 3, 48, 48)),
}

if __name__ == "__main__":
    m = EfficientNetB0()
    print(sum(p.numel() for p in m.parameters()), sum(p.numel() for p in m.features.parameters()))
