"""PyTorch twins of fer's VGG-family golden-fixture models (models/vgg.cpp, models/shallow.cpp).

Imported by tools/make_fixtures.py, which merges MODELS into its own table; run
    /usr/bin/python3 tools/make_fixtures.py --only vggnet shallow
Same structure and parameter names as the C++ modules, width-scaled the same way.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


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
    """R002's shallow CNN (MODELS.md 4.1), BN before ReLU."""

    def __init__(self, num_classes=6, width=1.0):
        super().__init__()
        w = _w(width)
        widths = [w(32), w(32), w(64), w(64)]
        cin = 1
        for i, c in enumerate(widths, 1):
            setattr(self, f"conv{i}", nn.Conv2d(cin, c, 3, 1, 1, bias=True))
            setattr(self, f"bn{i}", nn.BatchNorm2d(c))
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


MODELS = {
    # name: (constructor, config, input shape)
    "vggnet": (lambda cfg: VggNet(cfg["num_classes"], cfg["width"]), {"num_classes": 7, "width": 0.05},
               (4, 1, 40, 40)),
    "shallow": (lambda cfg: Shallow(cfg["num_classes"], cfg["width"]), {"num_classes": 6, "width": 0.125},
                (4, 1, 48, 48)),
}
