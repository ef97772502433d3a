// data/face_detect.h: faces in a photo, for ferpredict --detect haar. FER2013's images are already
// face crops; a photo from a camera needs detect -> crop -> 48x48 gray before the model sees it.
//
// detect_faces slides the cascade's window (haar_cascade.h) over an image pyramid, as OpenCV's
// CascadeClassifier::detectMultiScale does with its defaults:
//   scales   s = 1, f, f^2, ... (f = scale_factor, 1.1) while the window scaled by s fits the image
//            (and lies within min_size .. max_size); the image is shrunk to round(W/s) x round(H/s)
//            bilinearly (pixel centres aligned, as cv::resize; not resize_gray's area averaging,
//            which moves borderline windows) and the fixed window slides over it
//            with a step of 2 pixels (1 once s >= 2; a window failing the first stage skips the next
//            one); a window passing every stage is the box (round(x s), round(y s), round(win s)) of
//            the photo.
//   grouping group_boxes: boxes whose four sides differ by at most eps (0.2) times their mean size
//            are one cluster (transitively); a cluster of more than min_neighbors (3) boxes gives
//            their mean box, with `neighbors` = its size; a cluster box inside a stronger one
//            (more than max(3, its own) neighbors) is dropped (OpenCV's groupRectangles; with
//            min_neighbors <= 0 the boxes are returned as they are)
// crop_face48 cuts the box, widened by `margin` of its side on every side (clamped to the image),
// and resizes it to 48x48 like every other image of fer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/haar_cascade.h"
#include "data/image_io.h"

namespace fer::data {

struct FaceBox {
  int x = 0, y = 0, w = 0, h = 0;
  int neighbors = 0;  // windows of the cluster (a detection's strength)
};

struct FaceDetectOptions {
  double scale_factor = 1.1;
  int min_neighbors = 3;
  int min_size = 0;  // smallest box side in pixels (0: the cascade's window)
  int max_size = 0;  // largest box side (0: up to the image's width and height)
};

// Debian's opencv-data frontal-face cascade.
inline constexpr const char* kDefaultFaceCascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

// The faces of `image`, strongest first (ties: left to right, top to bottom), clipped to the image.
std::vector<FaceBox> detect_faces(const HaarCascade& cascade, const GrayImage& image, const FaceDetectOptions& o = {});

// Every window that passes the cascade, before grouping (neighbors 1 each).
std::vector<FaceBox> detect_windows(const HaarCascade& cascade, const GrayImage& image, const FaceDetectOptions& o = {});

// OpenCV's groupRectangles(boxes, min_neighbors, eps), described above.
std::vector<FaceBox> group_boxes(const std::vector<FaceBox>& boxes, int min_neighbors, double eps = 0.2);

// The 48x48 gray crop of `box` widened by `margin` (a fraction of its side) on every side.
std::vector<uint8_t> crop_face48(const GrayImage& image, const FaceBox& box, double margin);

// Intersection over union of two boxes (0 when they do not overlap).
double box_iou(const FaceBox& a, const FaceBox& b);

}  // namespace fer::data
