"""Transcode one video into an adaptive-bitrate ladder for HLS with ffmpeg:

    python3 ladder.py media/clip-a.mp4 --ladder 360:800k,240:400k,144:200k --out hls

writes <out>/master.m3u8 (the playlist a player opens), and per rendition <out>/<height>p/index.m3u8
with its MPEG-TS segments, then checks every rendition with ffprobe and writes <out>/ladder.json.

One ffmpeg process decodes the input once and encodes all renditions from it (split + scale). Key
frames are forced every --segment seconds in every rendition so segment boundaries line up across the
ladder and a player can switch bitrate at any segment. Renditions taller than the source are skipped:
upscaling spends bits on no extra detail.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def rate_bits(rate: str) -> int:
    """'800k' -> 800000, '2M' -> 2000000, '96000' -> 96000."""
    scale = {"k": 1_000, "m": 1_000_000}.get(rate[-1].lower(), 1)
    return int(float(rate[:-1] if scale > 1 else rate) * scale)


def even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)  # H.264 with 4:2:0 chroma needs even dimensions


parser = argparse.ArgumentParser()
parser.add_argument("input", type=Path)
parser.add_argument("--ladder", default="360:800k,240:400k,144:200k",
                    help="comma-separated HEIGHT:VIDEO_BITRATE rungs, highest first")
parser.add_argument("--audio-bitrate", default="96k")
parser.add_argument("--segment", type=float, default=2.0, help="HLS segment length in seconds")
parser.add_argument("--preset", default="veryfast", help="x264 preset: slower presets give smaller files")
parser.add_argument("--out", type=Path, default=Path("hls"))
args = parser.parse_args()

source = ffprobe(args.input)
video = next(s for s in source["streams"] if s["codec_type"] == "video")
has_audio = any(s["codec_type"] == "audio" for s in source["streams"])
src_w, src_h = int(video["width"]), int(video["height"])
duration = float(source["format"]["duration"])

rungs = [(int(h), rate) for h, rate in (r.split(":") for r in args.ladder.split(","))]
rungs = [(h, rate) for h, rate in rungs if h <= src_h] or [min(rungs)]  # always at least the lowest rung
renditions = [{"name": f"{h}p", "width": even(src_w * h / src_h), "height": h, "video_bitrate": rate}
              for h, rate in rungs]

n = len(renditions)
split = f"[0:v]split={n}" + "".join(f"[s{i}]" for i in range(n))
scales = [f"[s{i}]scale={r['width']}:{r['height']}:flags=bicubic,setsar=1[v{i}]" for i, r in enumerate(renditions)]
cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(args.input),
       "-filter_complex", ";".join([split, *scales])]
for i, r in enumerate(renditions):
    bits = rate_bits(r["video_bitrate"])
    cmd += ["-map", f"[v{i}]", f"-c:v:{i}", "libx264", f"-b:v:{i}", str(bits),
            # a capped VBV keeps each rendition near its advertised bandwidth, as HLS players expect
            f"-maxrate:v:{i}", str(int(bits * 1.07)), f"-bufsize:v:{i}", str(int(bits * 1.5))]
    if has_audio:
        cmd += ["-map", "0:a:0"]
cmd += ["-preset", args.preset, "-profile:v", "main", "-pix_fmt", "yuv420p", "-sc_threshold", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{args.segment})"]
if has_audio:
    cmd += ["-c:a", "aac", "-b:a", args.audio_bitrate, "-ac", "2"]
stream_map = " ".join(f"v:{i}{f',a:{i}' if has_audio else ''},name:{r['name']}" for i, r in enumerate(renditions))
args.out.mkdir(parents=True, exist_ok=True)
cmd += ["-f", "hls", "-hls_time", str(args.segment), "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments", "-hls_segment_filename", str(args.out / "%v" / "seg_%03d.ts"),
        "-master_pl_name", "master.m3u8", "-var_stream_map", stream_map, str(args.out / "%v" / "index.m3u8")]
subprocess.run(cmd, check=True)

# Check what was made, not just that ffmpeg exited 0: each rendition must decode to the planned size
# and last as long as the source.
for r in renditions:
    probe = ffprobe(args.out / r["name"] / "index.m3u8")
    v = next(s for s in probe["streams"] if s["codec_type"] == "video")
    r.update(codec=v["codec_name"], duration=round(float(probe["format"]["duration"]), 3),
             audio=any(s["codec_type"] == "audio" for s in probe["streams"]),
             bytes=sum(p.stat().st_size for p in (args.out / r["name"]).glob("seg_*.ts")))
    if (v["codec_name"], int(v["width"]), int(v["height"])) != ("h264", r["width"], r["height"]):
        raise SystemExit(f"{r['name']}: got {v['codec_name']} {v['width']}x{v['height']}, "
                         f"expected h264 {r['width']}x{r['height']}")
    if abs(r["duration"] - duration) > 0.25:
        raise SystemExit(f"{r['name']}: lasts {r['duration']}s, the source {duration}s")
    print(f"{args.input.name} {r['name']}: {r['width']}x{r['height']} {r['video_bitrate']}, "
          f"{r['duration']}s, {r['bytes']:,} bytes")

summary = {"source": args.input.name, "width": src_w, "height": src_h, "duration": duration,
           "audio": has_audio, "segment_seconds": args.segment, "renditions": renditions}
(args.out / "ladder.json").write_text(json.dumps(summary, indent=2) + "\n")
