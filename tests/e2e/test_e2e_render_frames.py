"""render-frames: Blender renders frame ranges in parallel tasks, the merge joins them into an MP4."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess

import numpy as np
import pytest
from matplotlib.image import imread

pytestmark = pytest.mark.skipif(not (shutil.which("blender") and shutil.which("ffprobe")),
                                reason="needs blender and ffmpeg (make tools)")

FRAMES, WIDTH, HEIGHT = 48, 320, 180


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_render_frames_to_mp4(run_workload):
    run = run_workload("render-frames")
    assert f"{run.name}: all 5 tasks succeeded" in run.output

    video = run.out / "merge" / "animation.mp4"
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=codec_name,width,height,nb_read_frames,r_frame_rate,pix_fmt", "-of", "json", str(video)],
        check=True, capture_output=True, text=True).stdout)["streams"][0]
    assert (probe["codec_name"], probe["width"], probe["height"]) == ("h264", WIDTH, HEIGHT)
    assert int(probe["nb_read_frames"]) == FRAMES  # every task's range, none lost or doubled
    assert (probe["r_frame_rate"], probe["pix_fmt"]) == ("24/1", "yuv420p")

    poster = run.out / "merge" / "first-frame.png"
    assert png_size(poster) == (WIDTH, HEIGHT)
    # A rendered picture, not a blank or a black frame: bright and dark areas and several colours.
    pixels = imread(poster)[..., :3]
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    assert pixels.std() > 0.1 and 0.2 < pixels.mean() < 0.9
    assert len(np.unique((pixels * 4).astype(int).reshape(-1, 3), axis=0)) > 20
