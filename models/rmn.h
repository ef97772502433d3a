// models/rmn.h: the Residual Masking Network (MODELS.md 1, R000), `resmasking_dropout1` by default.
//
//   ResNet34 backbone (models/resnet.h, torchvision names) with a masking block after each stage:
//   mask1 depth 4 (C=64), mask2 depth 3 (C=128), mask3 depth 2 (C=256), mask4 depth 1 (C=512);
//   x <- x * (1 + M), M = channel softmax (default) or sigmoid of the mask branch (ops::mask_apply).
//   Head after GAP: "dropout1" Dropout(0.4) Linear(512, K) (fc.1), "plain" Linear(512, K) (fc),
//   "dropout2" Linear(512,128) ReLU Dropout(0.5) Linear(128, K) (fc.0, fc.3).
//
// Masking block of depth d on C channels (names as the reference code's masking.py):
//   encoder  conv1 = BB(C->2C), then for k = 2..d: maxpool k2 s2, conv{k} = BB(2^(k-1)C -> 2^k C)
//   decoder  for k = 1..d-1: up_pool{d+k} = [ConvT k2 s2 with bias (0), BN (1), ReLU (2)] halving the
//            channels, concat [up, encoder skip], conv{d+k} = BB(2^(d-k+1)C -> 2^(d-k)C)
//   output   conv{2d} = BB(2C -> C)  -> mask logits z
// BB = BasicBlock with stride 1 and a 1x1 conv + BN projection ("downsample.0/.1").
//
// ModelConfig.variant: comma-separated options from {dropout1 (default), plain, dropout2} and
// {softmax (default), sigmoid}, e.g. "dropout2,sigmoid". Unknown options are an error.
#pragma once

#include "models/registry.h"
#include "nn/module.h"

namespace fer::models {

nn::ModulePtr build_rmn(const ModelConfig& config);

// Builds one masking block of `depth` (1..4) over `channels` channels (exposed for tests).
nn::ModulePtr build_masking_block(int64_t channels, int depth);

}  // namespace fer::models
