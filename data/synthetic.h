// data/synthetic.h: the built-in synthetic face set, fertrain's default data (no download needed).
//
// Each image is a procedural 48x48 gray face: head ellipse with shading, hair, neck, eyes (white,
// pupil, lids), brows, nostrils, mouth (lips, dark cavity, teeth), drawn in a face frame and mapped
// to the image by a random pose, 2x2 supersampled. The seven fer7 classes differ by a template of
// expression parameters (how far from neutral), scaled per image by a random intensity:
//   angry     brows lowered and slanted down to the centre (V), eyes narrowed, lips pressed
//   disgust   brows lowered, eyes narrowed, nose wrinkles, upper lip raised, asymmetric frown
//   fear      brows raised with inner ends up, eyes wide, mouth open and stretched wide
//   happy     mouth corners up (smile), often open with teeth, eyes slightly narrowed
//   sad       inner brow ends raised, mouth corners down, eyes a little closed
//   surprise  brows raised high and arched, eyes wide, mouth open round (O)
//   neutral   the baseline
// Nuisances: pose (rotation +-12 deg, translation +-3 px, scale 0.88..1.10), skin/hair/background
// tones, per-parameter jitter, lighting gradient and contrast, Gaussian-like noise (sigma 2..9),
// and in about a third of the images an occluder (a rectangle, an ellipse, or glasses).
// A small CNN learns the classes (> 90% validation accuracy); a linear classifier on raw pixels
// does clearly worse (see data/README.md for the measured figures).
//
// Determinism: image i uses only Philox(seed, stream kStreamSynthetic | i) (offsets 0..63 for its
// parameters, blocks 64.. for its pixel noise), so image i is the same whatever `count` is and
// however the work is split across threads. Label of image i: i % 7 (exactly balanced) unless
// fer_frequencies; split: PublicTest when i % 5 == 4 (20%), else Training.
#pragma once

#include <cstdint>

#include "data/dataset.h"

namespace fer::data {

struct SyntheticOptions {
  // false: label = i % 7 (balanced). true: labels drawn with FER2013 Training's class frequencies
  // (disgust 1.5%, happy 25.1%, ...), to exercise class weights and the balanced sampler.
  bool fer_frequencies = false;
};

// `count` faces (fer7 classes), Training/PublicTest split as above, sources "synthetic:<i>".
Dataset make_synthetic_faces(int64_t count, uint64_t seed, const SyntheticOptions& options = {});

// Image `index` alone: writes 2,304 bytes to `out` and returns its fer7 label.
int32_t render_synthetic_face(uint64_t seed, int64_t index, uint8_t* out, const SyntheticOptions& options = {});

}  // namespace fer::data
