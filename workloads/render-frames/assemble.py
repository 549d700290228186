"""Merge: join every task's frames into an H.264 MP4 with ffmpeg, and keep the first frame as a poster PNG.

Frames come from $BIGCOMPUTE_TASK_OUTPUTS/<task id>/frame_NNNN.png (one folder per frame-range task).
A missing or duplicated frame fails the merge: a video with a silent gap is worse than no video.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--frames", type=int, required=True, help="frames the animation must have")
parser.add_argument("--fps", type=int, default=24)
parser.add_argument("--crf", type=int, default=20, help="x264 quality (lower is better, 18-28 is usual)")
parser.add_argument("--out", type=Path, default=Path("video/animation.mp4"))
parser.add_argument("--poster", type=Path, default=Path("video/first-frame.png"))
args = parser.parse_args()

frames: dict[int, Path] = {}
for path in Path(os.environ["BIGCOMPUTE_TASK_OUTPUTS"]).glob("*/frame_*.png"):
    number = int(re.fullmatch(r"frame_(\d+)\.png", path.name).group(1))
    if number in frames:
        raise SystemExit(f"frame {number} rendered twice: {frames[number]} and {path}")
    frames[number] = path
missing = sorted(set(range(1, args.frames + 1)) - set(frames))
if missing:
    raise SystemExit(f"{len(missing)} of {args.frames} frames missing, first {missing[:10]}")

args.out.parent.mkdir(parents=True, exist_ok=True)
args.poster.parent.mkdir(parents=True, exist_ok=True)
shutil.copyfile(frames[1], args.poster)
with tempfile.TemporaryDirectory() as tmp:
    # ffmpeg's image-sequence input wants one folder with consecutive names: link them there.
    for number in range(1, args.frames + 1):
        os.symlink(frames[number].resolve(), Path(tmp) / f"{number:06d}.png")
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-framerate", str(args.fps),
                    "-i", f"{tmp}/%06d.png", "-c:v", "libx264", "-crf", str(args.crf), "-preset", "medium",
                    # yuv420p and faststart: plays in every browser and starts before it is fully loaded
                    "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(args.out)], check=True)

probe = json.loads(subprocess.run(
    ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
     "stream=codec_name,width,height,nb_read_frames", "-of", "json", str(args.out)],
    check=True, capture_output=True, text=True).stdout)["streams"][0]
print(f"{args.out}: {probe['nb_read_frames']} frames, {probe['width']}x{probe['height']} {probe['codec_name']}, "
      f"{args.out.stat().st_size:,} bytes")
