#!/usr/bin/env python3
"""OpenCV's own face boxes for tests/data/test_face_detect_fer2013.cpp (dev-only, like make_fixtures.py).

For the first 20 PublicTest images of every class (path order) a 320x240 scene is made: the gradient
background v(x, y) = 40 + (x + y) * 160 // 560 and the 48x48 face enlarged 2x by pixel replication at
(120, 70). cv2.CascadeClassifier with Debian's haarcascade_frontalface_default.xml runs
detectMultiScale(scene, scaleFactor=1.1, minNeighbors=3) on it; the boxes go to the JSON file, keyed by
the image's path under $FER_DATA. fer's detector (data/face_detect.h) must find the same boxes.

    /usr/bin/python3 tools/face_detect_fixture.py --data ../shared/data --out tests/fixtures/face_detect_opencv.json

Needs Debian's python3-opencv and opencv-data (fer itself does not use OpenCV).
"""
import argparse
import glob
import json
import os

import cv2
import numpy as np

CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
W, H, X0, Y0 = 320, 240, 120, 70


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the folder holding fer2013/ ($FER_DATA)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cascade = cv2.CascadeClassifier(CASCADE)
    assert not cascade.empty(), CASCADE
    yy, xx = np.mgrid[0:H, 0:W]
    background = (40 + (xx + yy) * 160 // (W + H)).astype(np.uint8)
    root = os.path.join(a.data, "fer2013", "test")
    boxes = {}
    for c in sorted(os.listdir(root)):
        for f in sorted(glob.glob(os.path.join(root, c, "*")))[:20]:
            face = cv2.imread(f, cv2.IMREAD_GRAYSCALE)
            assert face is not None and face.shape == (48, 48), f
            scene = background.copy()
            scene[Y0:Y0 + 96, X0:X0 + 96] = np.repeat(np.repeat(face, 2, axis=0), 2, axis=1)
            found = cascade.detectMultiScale(scene, scaleFactor=1.1, minNeighbors=3)
            boxes[os.path.relpath(f, a.data)] = [[int(v) for v in b] for b in found]
    doc = {"opencv": cv2.__version__, "cascade": os.path.basename(CASCADE), "scale_factor": 1.1,
           "min_neighbors": 3, "boxes": boxes}
    with open(a.out + ".tmp", "w") as out:  # one scene per line
        head = {k: v for k, v in doc.items() if k != "boxes"}
        out.write(json.dumps(head)[:-1] + ', "boxes": {\n')
        out.write(",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(boxes.items())))
        out.write("\n}}\n")
    os.replace(a.out + ".tmp", a.out)
    print(f"face_detect_fixture: {a.out}: {len(boxes)} scenes, {sum(len(v) for v in boxes.values())} boxes")


if __name__ == "__main__":
    main()
