"""Transcode one video into an adaptive-bitrate ladder for HLS with ffmpeg:

    python3 ladder.py media/clip-a.mp4 --ladder 360:800k,240:400k,144:200k --out hls

writes <out>/master.m3u8 (the playlist a player opens), and per rendition <out>/<height>p/index.m3u8
with its MPEG-TS segments, then checks every rendition with ffprobe and writes <out>/ladder.json.

One ffmpeg process decodes the input once and encodes all renditions from it (split + scale). Key
frames are forced every --segment seconds in every rendition so segment boundaries line up across the
ladder and a player can switch bitrate at any segment. Renditions taller than the source are skipped:
upscaling spends bits on no extra detail.

The master playlist declares what the renditions really stream, measured once all segments exist, as
RFC 8216 section 4.3.4.2 requires: ffmpeg writes BANDWIDTH as the nominal rate + 10%, which MPEG-TS
overhead and rate control exceed. BANDWIDTH is the peak segment bit rate, AVERAGE-BANDWIDTH the average,
and FRAME-RATE (required by Apple's HLS authoring specification) the rendition's frame rate.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
from fractions import Fraction
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


def segments(playlist: Path) -> list[tuple[float, int]]:
    """(duration in seconds, bytes) of each segment of a media playlist."""
    text = playlist.read_text()
    pairs = re.findall(r"#EXTINF:([\d.]+),[^\n]*\n(?:#[^\n]*\n)*([^#\s][^\n]*)", text)
    return [(float(length), (playlist.parent / uri).stat().st_size) for length, uri in pairs]


def measured_bandwidth(parts: list[tuple[float, int]], target: float) -> tuple[int, int]:
    """(peak, average) bit rate per RFC 8216 4.3.4.2: the peak is the largest bit rate of any contiguous
    set of segments lasting 0.5 to 1.5 times the target duration (a lone segment outside it, e.g. a short
    last one, only counts within such a set)."""
    rates = [sum(8 * b for _, b in parts[i:j]) / total
             for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)
             if 0.5 * target <= (total := sum(d for d, _ in parts[i:j])) <= 1.5 * target]
    rates = rates or [8 * b / d for d, b in parts]  # every segment far from the target: per segment
    seconds = sum(d for d, _ in parts)
    return math.ceil(max(rates)), math.ceil(sum(8 * b for _, b in parts) / seconds)


def declare_measured(master: Path, renditions: list[dict]) -> None:
    """Rewrite ffmpeg's master playlist with each rendition's measured BANDWIDTH, AVERAGE-BANDWIDTH and
    FRAME-RATE, keeping its other attributes (RESOLUTION, CODECS)."""
    by_uri = {f"{r['name']}/index.m3u8": r for r in renditions}
    lines = master.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            r = by_uri[lines[i + 1].strip()]
            attrs = dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            attrs.update({"BANDWIDTH": str(r["peak_bandwidth"]), "AVERAGE-BANDWIDTH": str(r["average_bandwidth"]),
                          "FRAME-RATE": f"{r['frame_rate']:.3f}"})
            lines[i] = "#EXT-X-STREAM-INF:" + ",".join(f"{k}={v}" for k, v in attrs.items())
    if "#EXT-X-INDEPENDENT-SEGMENTS" not in lines:  # every segment starts with a key frame
        lines.insert(2, "#EXT-X-INDEPENDENT-SEGMENTS")
    master.write_text("\n".join(lines) + "\n")


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
    peak, average = measured_bandwidth(segments(args.out / r["name"] / "index.m3u8"), args.segment)
    r.update(codec=v["codec_name"], duration=round(float(probe["format"]["duration"]), 3),
             audio=any(s["codec_type"] == "audio" for s in probe["streams"]),
             bytes=sum(p.stat().st_size for p in (args.out / r["name"]).glob("seg_*.ts")),
             peak_bandwidth=peak, average_bandwidth=average, frame_rate=float(Fraction(v["avg_frame_rate"])))
    if (v["codec_name"], int(v["width"]), int(v["height"])) != ("h264", r["width"], r["height"]):
        raise SystemExit(f"{r['name']}: got {v['codec_name']} {v['width']}x{v['height']}, "
                         f"expected h264 {r['width']}x{r['height']}")
    if abs(r["duration"] - duration) > 0.25:
        raise SystemExit(f"{r['name']}: lasts {r['duration']}s, the source {duration}s")
    print(f"{args.input.name} {r['name']}: {r['width']}x{r['height']} {r['video_bitrate']}, "
          f"{r['duration']}s, {r['bytes']:,} bytes, peak {peak:,} bit/s, average {average:,} bit/s")
declare_measured(args.out / "master.m3u8", renditions)

summary = {"source": args.input.name, "width": src_w, "height": src_h, "duration": duration,
           "audio": has_audio, "segment_seconds": args.segment, "renditions": renditions}
(args.out / "ladder.json").write_text(json.dumps(summary, indent=2) + "\n")
