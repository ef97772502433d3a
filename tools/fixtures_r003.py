"""PyTorch twins of R003's models (MODELS.md section 5) for tools/make_fixtures.py.

Same structure and state-dict names as models/unet.cpp, models/vit.cpp and models/autoencoder.cpp; make_fixtures.py merges
this MODELS dict into its own. Reduced sizes keep each fixture under ~1 MB:
    unet  width 0.1 (channels 3, 6, 13, 26, 51; head 13), batch 4 of 1x48x48
    vit   width 0.25 (D = 48, 3 heads of 16), depth 2, batch 4 of 1x48x48
    autoencoder  width 0.5 (channels 16, 32, 64; decoder 32, 16, 8), batch 4 of 1x48x48
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _w(c, width):
    return max(1, int(round(c * width)))


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, 2, 0, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.up(x)))


class AttentionGate(nn.Module):
    """Additive gate, g at the skip's resolution (RMN runet's Attention_block layout)."""

    def __init__(self, c, inter):
        super().__init__()
        self.W_g = nn.Sequential(nn.Conv2d(c, inter, 1, 1, 0, bias=True), nn.BatchNorm2d(inter))
        self.W_x = nn.Sequential(nn.Conv2d(c, inter, 1, 1, 0, bias=True), nn.BatchNorm2d(inter))
        self.psi = nn.Sequential(nn.Conv2d(inter, 1, 1, 1, 0, bias=True), nn.BatchNorm2d(1))

    def forward(self, g, x):
        a = F.relu(self.W_g(g) + self.W_x(x))
        return x * torch.sigmoid(self.psi(a))


class AttentionUNet(nn.Module):
    """MODELS.md 5.1, width-scaled like models/unet.cpp."""

    def __init__(self, num_classes=7, width=1.0):
        super().__init__()
        c1, c2, c3, c4, c5 = (_w(c, width) for c in (32, 64, 128, 256, 512))
        self.enc1 = DoubleConv(1, c1)
        self.enc2 = DoubleConv(c1, c2)
        self.enc3 = DoubleConv(c2, c3)
        self.enc4 = DoubleConv(c3, c4)
        self.bottleneck = DoubleConv(c4, c5)
        for k, below, at in ((4, c5, c4), (3, c4, c3), (2, c3, c2), (1, c2, c1)):
            setattr(self, f"up{k}", Up(below, at))
            setattr(self, f"att{k}", AttentionGate(at, max(1, at // 2)))
            setattr(self, f"dec{k}", DoubleConv(2 * at, at))
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(c5 + c1, _w(128, width))
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(_w(128, width), num_classes)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        e3 = self.enc3(self.pool(e2))
        e4 = self.enc4(self.pool(e3))
        b = self.bottleneck(self.pool(e4))
        d = b
        for k, skip in ((4, e4), (3, e3), (2, e2), (1, e1)):
            u = getattr(self, f"up{k}")(d)
            gated = getattr(self, f"att{k}")(u, skip)
            d = getattr(self, f"dec{k}")(torch.cat([gated, u], 1))
        feat = torch.cat([b.mean((2, 3)), d.mean((2, 3))], 1)
        return self.fc2(self.drop(F.relu(self.fc1(feat))))


class PatchEmbed(nn.Module):
    def __init__(self, cin, dim, patch=4):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, patch, patch, 0, bias=True)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.1)

    def forward(self, x):
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        a = a.softmax(-1)
        out = (a @ v).transpose(1, 2).reshape(n, t, d)
        return self.proj_drop(self.proj(out))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.drop1 = nn.Dropout(0.1)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop2 = nn.Dropout(0.1)

    def forward(self, x):
        return self.drop2(self.fc2(self.drop1(F.gelu(self.fc1(x)))))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """MODELS.md 5.3 with timm's state-dict names, width/depth-scaled like models/vit.cpp."""

    def __init__(self, num_classes=7, width=1.0, depth=6, image=48):
        super().__init__()
        dim = max(3, 3 * int(round(192 * width / 3)))
        tokens = (image // 4) ** 2 + 1
        self.patch_embed = PatchEmbed(1, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.pos_drop = nn.Dropout(0.1)
        self.blocks = nn.Sequential(*[Block(dim, 3) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        p = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(p.shape[0], -1, -1), p], 1)
        x = self.pos_drop(x + self.pos_embed)
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class ConvAutoencoder(nn.Module):
    """MODELS.md 5.2: three conv3 p1 + ReLU + maxpool 2 (32, 64, 128), three ConvT k2 s2 + ReLU (64, 32,
    16), conv3 p1 16->1 + sigmoid; nn.Sequential indices as the state-dict names."""

    def __init__(self, width=1.0):
        super().__init__()
        c1, c2, c3, d3 = (_w(c, width) for c in (32, 64, 128, 16))
        self.encoder = nn.Sequential(nn.Conv2d(1, c1, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Conv2d(c1, c2, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Conv2d(c2, c3, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2))
        self.decoder = nn.Sequential(nn.ConvTranspose2d(c3, c2, 2, 2), nn.ReLU(),
                                     nn.ConvTranspose2d(c2, c1, 2, 2), nn.ReLU(),
                                     nn.ConvTranspose2d(c1, d3, 2, 2), nn.ReLU(),
                                     nn.Conv2d(d3, 1, 3, 1, 1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


MODELS = {
    # name: (constructor, config, input shape)
    "unet": (lambda cfg: AttentionUNet(cfg["num_classes"], cfg["width"]), {"num_classes": 7, "width": 0.1},
             (4, 1, 48, 48)),
    "vit": (lambda cfg: ViT(cfg["num_classes"], cfg["width"], cfg["depth"]),
            {"num_classes": 7, "width": 0.25, "depth": 2}, (4, 1, 48, 48)),
    # no classes: the loss is the MSE of the reconstruction against the input (make_fixtures.py "loss").
    # Inputs in [0, 0.5] (mean 0.25, not the untrained sigmoid's 0.5) and lr 0.1 make the SGD curve fall
    # 0.082 -> 0.030; on U(0, 1) noise with lr 0.01 it stays flat to 5 digits and would test nothing.
    "autoencoder": (lambda cfg: ConvAutoencoder(cfg["width"]), {"num_classes": 0, "width": 0.5, "loss": "mse",
                                                         "input_scale": 0.5, "sgd_lr": 0.1},
                    (4, 1, 48, 48)),
}
