"""PyTorch twins of fer's VGG-family golden-fixture models (models/vgg.cpp, models/shallow.cpp),
written from MODELS.md's layer tables (sections 2.1, 3.2, 4.1-4.3).

Imported by tools/make_fixtures.py, which merges MODELS into its own table; run
    /usr/bin/python3 tools/make_fixtures.py --only vggnet shallow vgg11 vgg16mod vgg16
Same structure and parameter names as the C++ modules, width-scaled the same way.
R002's Keras models (Shallow, Vgg16Mod) use Keras' BatchNormalization settings like the C++ modules:
eps 1e-3, momentum 0.99 in Keras' convention = 0.01 in PyTorch's (KERAS_BN). Their weights here keep
the script's init (the fixture stores them; the C++ test loads them), so only the BN settings matter.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


KERAS_BN = {"eps": 1e-3, "momentum": 0.01}


def _w(width):
    return lambda c: max(1, int(round(c * width)))


class VggNet(nn.Module):
    """usef-kh/fer models/vgg.py (MODELS.md 2.1): BN before ReLU, dropout before ReLU in the FCs."""

    def __init__(self, num_classes=7, width=1.0, drop=0.2):
        super().__init__()
        w = _w(width)
        names = ["1a", "1b", "2a", "2b", "3a", "3b", "4a", "4b"]
        widths = [w(64), w(64), w(128), w(128), w(256), w(256), w(512), w(512)]
        self.names = names
        cin = 1
        for n, c in zip(names, widths):
            setattr(self, "conv" + n, nn.Conv2d(cin, c, kernel_size=3, padding=1))
            cin = c
        for n, c in zip(names, widths):
            setattr(self, "bn" + n, nn.BatchNorm2d(c))
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.lin1 = nn.Linear(widths[7] * 2 * 2, w(4096))
        self.lin2 = nn.Linear(w(4096), w(4096))
        self.lin3 = nn.Linear(w(4096), num_classes)
        self.drop = nn.Dropout(p=drop)

    def forward(self, x):
        for i, n in enumerate(self.names):
            x = F.relu(getattr(self, "bn" + n)(getattr(self, "conv" + n)(x)))
            if i % 2 == 1:
                x = self.pool(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.drop(self.lin1(x)))
        x = F.relu(self.drop(self.lin2(x)))
        return self.lin3(x)


class Shallow(nn.Module):
    """R002's shallow CNN (MODELS.md 4.1), BN before ReLU, Keras BN settings."""

    def __init__(self, num_classes=6, width=1.0):
        super().__init__()
        w = _w(width)
        widths = [w(32), w(32), w(64), w(64)]
        cin = 1
        for i, c in enumerate(widths, 1):
            setattr(self, f"conv{i}", nn.Conv2d(cin, c, 3, 1, 1, bias=True))
            setattr(self, f"bn{i}", nn.BatchNorm2d(c, **KERAS_BN))
            cin = c
        self.pool = nn.MaxPool2d(2, 2)
        self.drop_conv = nn.Dropout(0.25)
        self.fc1 = nn.Linear(widths[3] * 12 * 12, w(256))
        self.drop_fc = nn.Dropout(0.5)
        self.fc2 = nn.Linear(w(256), num_classes)

    def forward(self, x):
        for i in range(1, 5):
            x = F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
            if i % 2 == 0:
                x = self.drop_conv(self.pool(x))
        x = self.drop_fc(F.relu(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)


class Vgg11Mod(nn.Module):
    """R001's modified VGG11 (MODELS.md 3.2): torchvision VGG11 config A without BN on 48x48x3, its last
    maxpool and the adaptive 7x7 pool replaced by one AvgPool k2 s1 (3x3 -> 2x2), head 2048-1024-512-K.
    torchvision names: features.<index in the layer list>, classifier.<index>."""

    def __init__(self, num_classes=7, width=1.0):
        super().__init__()
        w = _w(width)
        layers, cin = [], 3
        for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, w(v), 3, 1, 1), nn.ReLU()]
                cin = w(v)
        layers.append(nn.AvgPool2d(2, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(cin * 2 * 2, w(1024)), nn.ReLU(), nn.Dropout(0.3),
                                        nn.Linear(w(1024), w(512)), nn.ReLU(), nn.Linear(w(512), num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class KerasVgg16Body(nn.Module):
    """Keras VGG16 without top (MODELS.md 4.2/4.3): 13 conv k3 p1 + bias + ReLU in blocks of 2,2,3,3,3,
    maxpool k2 s2 after each block (after block 5 only when last_pool). Keras layer names."""

    def __init__(self, cin, width, last_pool):
        super().__init__()
        w = _w(width)
        self.last_pool = last_pool
        self.layout = []
        for b, (c, n) in enumerate(zip([64, 128, 256, 512, 512], [2, 2, 3, 3, 3]), 1):
            for i in range(1, n + 1):
                name = f"block{b}_conv{i}"
                setattr(self, name, nn.Conv2d(cin, w(c), 3, 1, 1))
                self.layout.append((b, name, i == n))
                cin = w(c)
        self.out_channels = cin

    def forward(self, x):
        for b, name, block_end in self.layout:
            x = F.relu(getattr(self, name)(x))
            if block_end and (b < 5 or self.last_pool):
                x = F.max_pool2d(x, 2, 2)
        return x


class Vgg16Mod(nn.Module):
    """R002's VGG16 from scratch (MODELS.md 4.2): body on 48x48x1 without block5_pool (ends 3x3), two
    stages conv3 p1 -> BN (Keras settings) -> ReLU -> maxpool k2 s2 'same' (ceil: 3 -> 2 -> 1), flatten -> 256 -> K."""

    def __init__(self, num_classes=6, width=1.0):
        super().__init__()
        w = _w(width)
        self.backbone = KerasVgg16Body(1, width, last_pool=False)
        c = self.backbone.out_channels
        for k in (6, 7):
            setattr(self, f"stage{k}_conv", nn.Conv2d(c, c, 3, 1, 1))
            setattr(self, f"stage{k}_bn", nn.BatchNorm2d(c, **KERAS_BN))
        self.fc1 = nn.Linear(c, w(256))
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(w(256), num_classes)

    def forward(self, x):
        x = self.backbone(x)
        for k in (6, 7):
            x = F.max_pool2d(F.relu(getattr(self, f"stage{k}_bn")(getattr(self, f"stage{k}_conv")(x))), 2, 2,
                             ceil_mode=True)
        assert x.shape[2:] == (1, 1)
        return self.fc2(self.drop(F.relu(self.fc1(torch.flatten(x, 1)))))


class Vgg16Mlp(nn.Module):
    """R002's transfer VGG16 (MODELS.md 4.3): full body (5 pools) on 48x48x3, GAP, 256 -> 128 -> K."""

    def __init__(self, num_classes=6, width=1.0):
        super().__init__()
        w = _w(width)
        self.backbone = KerasVgg16Body(3, width, last_pool=True)
        self.fc1 = nn.Linear(self.backbone.out_channels, w(256))
        self.fc2 = nn.Linear(w(256), w(128))
        self.fc3 = nn.Linear(w(128), num_classes)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = torch.flatten(F.adaptive_avg_pool2d(self.backbone(x), 1), 1)
        x = self.drop(F.relu(self.fc1(x)))
        x = self.drop(F.relu(self.fc2(x)))
        return self.fc3(x)


def he_init(model):
    """Kaiming-normal (fan_in, ReLU) conv and linear weights. Without BN, PyTorch's default init shrinks
    the activations ~2.4x per layer, so after 10-16 layers the logits are the last biases and the
    early layers' gradients vanish; He init keeps every layer's contribution (and gradient) O(1)."""
    for mod in model.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
    return model


MODELS = {
    # name: (constructor, config, input shape)
    "vgg11": (lambda cfg: he_init(Vgg11Mod(cfg["num_classes"], cfg["width"])),
              {"num_classes": 7, "width": 0.0625, "init": "kaiming_normal fan_in convs and linears"}, (4, 3, 48, 48)),
    "vgg16mod": (lambda cfg: he_init(Vgg16Mod(cfg["num_classes"], cfg["width"])),
                 {"num_classes": 6, "width": 0.0625, "init": "kaiming_normal fan_in convs and linears",
                  "bn": "eps 1e-3 momentum 0.01 (Keras)"},
                 (4, 1, 48, 48)),
    "vgg16": (lambda cfg: he_init(Vgg16Mlp(cfg["num_classes"], cfg["width"])),
              {"num_classes": 6, "width": 0.0625, "init": "kaiming_normal fan_in convs and linears"}, (4, 3, 48, 48)),
    "vggnet": (lambda cfg: VggNet(cfg["num_classes"], cfg["width"]), {"num_classes": 7, "width": 0.05},
               (4, 1, 40, 40)),
    "shallow": (lambda cfg: Shallow(cfg["num_classes"], cfg["width"]),
                {"num_classes": 6, "width": 0.125, "bn": "eps 1e-3 momentum 0.01 (Keras)"}, (4, 1, 48, 48)),
}
