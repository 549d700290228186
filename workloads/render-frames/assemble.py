"""Merge: join every task's frames into an H.264 MP4 tagged BT.709, with the first frame as a poster.

Frames come from $BIGCOMPUTE_TASK_OUTPUTS/<task id>/frame_NNNN.exr (scene-linear OpenEXR) with their
frame_NNNN.json (seed, Blender version). The preview is made from the linear frames: sRGB encoding of
the linear values (Blender's "Standard" view), then BT.709 Y'CbCr, limited range, and the MP4 says so
in its colour tags; untagged, players guess, and the picture shifts. The first frame's EXR is kept next
to its PNG poster. A missing or duplicated frame, a seed used twice or frames from two Blender versions
fail the merge: a video with a silent gap or a visible seam is worse than no video.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

# ffmpeg's EXR decoder turns the linear values into sRGB-encoded ones (IEC 61966-2-1).
LINEAR_TO_SRGB = ["-apply_trc", "iec61966_2_1"]
BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]

parser = argparse.ArgumentParser()
parser.add_argument("--frames", type=int, required=True, help="frames the animation must have")
parser.add_argument("--fps", type=int, default=24)
parser.add_argument("--crf", type=int, default=20, help="x264 quality (lower is better, 18-28 is usual)")
parser.add_argument("--out", type=Path, default=Path("video/animation.mp4"))
parser.add_argument("--poster", type=Path, default=Path("video/first-frame.png"))
args = parser.parse_args()

frames: dict[int, Path] = {}
for path in Path(os.environ["BIGCOMPUTE_TASK_OUTPUTS"]).glob("*/frame_*.exr"):
    number = int(re.fullmatch(r"frame_(\d+)\.exr", path.name).group(1))
    if number in frames:
        raise SystemExit(f"frame {number} rendered twice: {frames[number]} and {path}")
    frames[number] = path
missing = sorted(set(range(1, args.frames + 1)) - set(frames))
if missing:
    raise SystemExit(f"{len(missing)} of {args.frames} frames missing, first {missing[:10]}")
info = {n: json.loads(frames[n].with_suffix(".json").read_text()) for n in range(1, args.frames + 1)}
versions = sorted({i["blender"] for i in info.values()})
if len(versions) > 1:
    raise SystemExit(f"frames rendered by Blender {' and '.join(versions)}: they differ; render all with one")
seeds = [i["seed"] for i in info.values()]
if len(set(seeds)) < len(seeds):
    raise SystemExit("a noise seed is used on more than one frame: the noise would stand still")

args.out.parent.mkdir(parents=True, exist_ok=True)
args.poster.parent.mkdir(parents=True, exist_ok=True)
ffmpeg = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
shutil.copyfile(frames[1], args.poster.with_suffix(".exr"))
subprocess.run([*ffmpeg, *LINEAR_TO_SRGB, "-i", str(frames[1]), "-frames:v", "1", "-pix_fmt", "rgb24",
                str(args.poster)], check=True)
with tempfile.TemporaryDirectory() as tmp:
    # ffmpeg's image-sequence input wants one folder with consecutive names: link them there.
    for number in range(1, args.frames + 1):
        os.symlink(frames[number].resolve(), Path(tmp) / f"{number:06d}.exr")
    subprocess.run([*ffmpeg, "-framerate", str(args.fps), *LINEAR_TO_SRGB, "-i", f"{tmp}/%06d.exr",
                    # R'G'B' -> Y'CbCr with the BT.709 matrix in limited range, and tags that say so
                    "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p", *BT709,
                    "-c:v", "libx264", "-crf", str(args.crf), "-preset", "medium",
                    # yuv420p and faststart: plays in every browser and starts before it is fully loaded
                    "-movflags", "+faststart", str(args.out)], check=True)
(args.out.parent / "render.json").write_text(json.dumps(
    {"frames": args.frames, "fps": args.fps, "blender": versions[0], "seeds": seeds,
     "samples": info[1]["samples"]}, indent=1) + "\n")

probe = json.loads(subprocess.run(
    ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
     "stream=codec_name,width,height,nb_read_frames,color_space,color_transfer,color_primaries",
     "-of", "json", str(args.out)], check=True, capture_output=True, text=True).stdout)["streams"][0]
print(f"{args.out}: {probe['nb_read_frames']} frames, {probe['width']}x{probe['height']} {probe['codec_name']}, "
      f"{probe['color_space']}/{probe['color_transfer']}/{probe['color_primaries']}, "
      f"{args.out.stat().st_size:,} bytes, Blender {versions[0]}")
