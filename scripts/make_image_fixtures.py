#!/usr/bin/env python3
"""Dev-only: writes small PNG/JPEG fixtures for TapsData's ImageFile tests (needs `pip install pillow numpy`).

Run from the repository root with the shared data next to it:
    python3 scripts/make_image_fixtures.py ../shared/data/imagenet-base/coffee.png
"""
import json, sys
import numpy as np
from PIL import Image

src = Image.open(sys.argv[1]).convert("RGB")
small = src.resize((24, 16), Image.BILINEAR)          # non-square on purpose (W=24, H=16)
small.save("Tests/Fixtures/images/coffee-24x16.png")
small.convert("L").save("Tests/Fixtures/images/coffee-24x16-grey.png")
small.save("Tests/Fixtures/images/coffee-24x16.jpg", quality=95)
ref = {
    "version": 1,
    "png_rgb_chw_first": np.asarray(small).transpose(2, 0, 1).reshape(-1)[:32].tolist(),
    "png_grey_first": np.asarray(small.convert("L")).reshape(-1)[:32].tolist(),
    "jpeg_rgb_chw": np.asarray(Image.open("Tests/Fixtures/images/coffee-24x16.jpg").convert("RGB")).transpose(2, 0, 1).reshape(-1).tolist(),
}
json.dump(ref, open("Tests/Fixtures/images/reference.json", "w"))
