"""render-frames: Blender renders frame ranges in parallel tasks to linear EXR, the merge joins them into
an MP4 tagged BT.709 and makes the poster from the linear first frame."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

pytestmark = pytest.mark.skipif(not (shutil.which("blender") and shutil.which("ffprobe")),
                                reason="needs blender and ffmpeg (make tools)")

FOLDER = Path(__file__).resolve().parents[2] / "workloads" / "render-frames"
FRAMES, WIDTH, HEIGHT, TASKS = 48, 320, 180, 16


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def ffprobe_stream(path, entries: str) -> dict:
    return json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries", f"stream={entries}",
         "-of", "json", str(path)], check=True, capture_output=True, text=True).stdout)["streams"][0]


def linear_rgb(exr) -> np.ndarray:
    """The EXR's float pixels as ffmpeg decodes them, without any transfer function: (height, width, RGB)."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(exr), "-f", "rawvideo", "-pix_fmt", "gbrpf32le", "-"],
                         check=True, capture_output=True).stdout
    g, b, r = np.frombuffer(raw, dtype="<f4").reshape(3, HEIGHT, WIDTH)
    return np.stack([r, g, b], axis=-1)


def srgb(linear: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 encoding of linear light in [0, 1] (values outside are clipped, as Standard view does)."""
    x = np.clip(linear, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def test_render_frames_to_mp4(run_workload):
    run = run_workload("render-frames")
    assert f"{run.name}: all {TASKS + 1} tasks succeeded" in run.output
    merge = run.out / "merge"

    video = merge / "animation.mp4"
    probe = ffprobe_stream(video, "codec_name,width,height,nb_read_frames,r_frame_rate,pix_fmt,"
                                  "color_space,color_transfer,color_primaries,color_range")
    assert (probe["codec_name"], probe["width"], probe["height"]) == ("h264", WIDTH, HEIGHT)
    assert int(probe["nb_read_frames"]) == FRAMES  # every task's range, none lost or doubled
    assert (probe["r_frame_rate"], probe["pix_fmt"]) == ("24/1", "yuv420p")
    # Colour tags read back: without them players guess the matrix and range, and colours shift.
    assert [probe[k] for k in ("color_space", "color_transfer", "color_primaries", "color_range")] == \
        ["bt709", "bt709", "bt709", "tv"]

    # The frames are kept as linear half-float EXR; the poster is their sRGB rendering.
    exr = merge / "first-frame.exr"
    assert exr.read_bytes()[:4] == b"\x76\x2f\x31\x01"  # OpenEXR magic number
    linear = linear_rgb(exr)
    poster = merge / "first-frame.png"
    assert png_size(poster) == (WIDTH, HEIGHT)
    pixels = imread(poster)[..., :3]
    assert np.abs(pixels - srgb(linear)).max() <= 2 / 255  # half-float input, 8-bit output
    assert linear.mean() < pixels.mean() - 0.1  # linear light is darker than its sRGB encoding
    # A rendered picture, not a blank or a black frame: bright and dark areas and several colours.
    assert pixels.std() > 0.1 and 0.2 < pixels.mean() < 0.9
    assert len(np.unique((pixels * 4).astype(int).reshape(-1, 3), axis=0)) > 20
    # The video's first frame, decoded with its tags, looks like the poster (a wrong matrix or range
    # shifts the mean by far more than compression does).
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-frames:v", "1", "-f", "rawvideo",
                              "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    first = np.frombuffer(decoded, dtype=np.uint8).reshape(HEIGHT, WIDTH, 3) / 255
    assert np.abs(first - pixels).mean() < 8 / 255

    # A new noise seed on every frame, and one Blender version for all of them (the one installed here).
    render = json.loads((merge / "render.json").read_text())
    assert sorted(render["seeds"]) == list(range(1, FRAMES + 1))
    version = subprocess.run(["blender", "--version"], check=True, capture_output=True, text=True).stdout
    assert version.split()[1] == render["blender"]


@pytest.mark.parametrize("frames, refusal", [
    ({1: (1, "3.4.1"), 2: (2, "4.0.2")}, "frames rendered by Blender 3.4.1 and 4.0.2"),
    ({1: (7, "3.4.1"), 2: (7, "3.4.1")}, "a noise seed is used on more than one frame"),
])
def test_the_merge_refuses_mixed_versions_and_a_repeated_seed(tmp_path, frames, refusal):
    """Without Blender: the merge checks the frames' records before it reads a pixel."""
    for number, (seed, version) in frames.items():
        task = tmp_path / "tasks" / f"frames-{number:04d}"
        task.mkdir(parents=True)
        (task / f"frame_{number:04d}.exr").write_bytes(b"\x76\x2f\x31\x01")
        (task / f"frame_{number:04d}.json").write_text(json.dumps(
            {"frame": number, "seed": seed, "samples": 10, "blender": version}))
    done = subprocess.run([sys.executable, "-B", str(FOLDER / "assemble.py"), "--frames", str(len(frames)),
                           "--out", str(tmp_path / "video" / "a.mp4")], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "BIGCOMPUTE_TASK_OUTPUTS": str(tmp_path / "tasks")})
    assert done.returncode != 0 and refusal in done.stderr
    assert not (tmp_path / "video").exists()
