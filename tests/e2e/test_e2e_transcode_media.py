"""transcode-media: one task per input video, each making an HLS ladder; every rendition checked with ffprobe.

The master playlist must declare what the renditions stream (RFC 8216 4.3.4.2, Apple's HLS authoring
specification): BANDWIDTH at least the measured peak segment bit rate and within 10% of it,
AVERAGE-BANDWIDTH likewise for the average, FRAME-RATE the source's; key frames start every segment at
the same times in every rendition, so a player can switch at any segment boundary."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not shutil.which("ffprobe"), reason="needs ffmpeg (make tools)")

MEDIA = Path(__file__).resolve().parents[2] / "workloads" / "transcode-media" / "media"
LADDER = {360: 800_000, 240: 400_000, 144: 200_000}  # the workload's --ladder


def probe(path: Path) -> dict:
    return json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json",
                                      str(path)], check=True, capture_output=True, text=True).stdout)


def video(info: dict) -> dict:
    return next(s for s in info["streams"] if s["codec_type"] == "video")


def stream_inf(master: str) -> list[tuple[dict[str, str], str]]:
    """(attributes, URI) of each #EXT-X-STREAM-INF entry."""
    return [(dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', attrs)), uri)
            for attrs, uri in re.findall(r"#EXT-X-STREAM-INF:([^\n]*)\n(\S+)", master)]


def peak_and_average(sizes: list[int], lengths: list[float], target: float) -> tuple[float, float]:
    """RFC 8216 4.3.4.2: the peak is the highest bit rate of any run of consecutive segments lasting
    0.5 to 1.5 target durations."""
    peak = 0.0
    for first in range(len(sizes)):
        bits = seconds = 0.0
        for size, length in zip(sizes[first:], lengths[first:], strict=True):
            bits, seconds = bits + 8 * size, seconds + length
            if 0.5 * target <= seconds <= 1.5 * target:
                peak = max(peak, bits / seconds)
    return peak, 8 * sum(sizes) / sum(lengths)


def first_packet(segment: Path) -> tuple[float, str]:
    """(presentation time, flags) of a segment's first video packet."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
                          "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", str(segment)],
                         check=True, capture_output=True, text=True).stdout.split()[0]
    time, flags = out.split(",")[:2]
    return float(time), flags


def test_every_video_gets_a_checked_ladder(run_workload):
    sources = sorted(MEDIA.glob("*.mp4"))
    assert len(sources) == 3
    run = run_workload("transcode-media")
    assert f"{run.name}: all {len(sources)} tasks succeeded" in run.output

    for source in sources:
        src = probe(source)
        src_w, src_h = int(video(src)["width"]), int(video(src)["height"])
        src_duration = float(src["format"]["duration"])
        src_audio = any(s["codec_type"] == "audio" for s in src["streams"])
        folder = run.out / f"ladder-{source.stem}"

        # The master playlist lists exactly the rungs not taller than the source, best first.
        master = (folder / "master.m3u8").read_text()
        entries = stream_inf(master)
        heights = [h for h in LADDER if h <= src_h]
        assert [int(a["RESOLUTION"].split("x")[1]) for a, _ in entries] == heights, master
        assert [uri for _, uri in entries] == [f"{h}p/index.m3u8" for h in heights]
        src_rate = float(Fraction(video(src)["avg_frame_rate"]))
        segment_starts = []

        for attrs, uri in entries:
            assert {"BANDWIDTH", "AVERAGE-BANDWIDTH", "RESOLUTION", "FRAME-RATE", "CODECS"} <= set(attrs), master
            width, h = map(int, attrs["RESOLUTION"].split("x"))
            # Same shape as the source (within rounding to even), H.264, as long as the source.
            assert abs(int(width) / h - src_w / src_h) < 0.02
            info = probe(folder / uri)
            v = video(info)
            assert (v["codec_name"], v["width"], v["height"], v["pix_fmt"]) == ("h264", int(width), h, "yuv420p")
            assert abs(float(info["format"]["duration"]) - src_duration) < 0.25
            assert any(s["codec_type"] == "audio" for s in info["streams"]) == src_audio
            assert attrs["FRAME-RATE"] == f"{src_rate:.3f}"
            # Segments of at most the 2 s target, so players can switch rungs every 2 s.
            playlist = (folder / uri).read_text()
            lengths = [float(x) for x in re.findall(r"#EXTINF:([\d.]+),", playlist)]
            assert lengths and max(lengths) <= 2.05 and abs(sum(lengths) - src_duration) < 0.25
            assert "#EXT-X-ENDLIST" in playlist
            # Declared = measured: BANDWIDTH covers the peak segment bit rate and exceeds it by under 10%
            # (Apple's tolerance), AVERAGE-BANDWIDTH the same for the average; both above the rung's rate.
            segs = re.findall(r"^(seg_\d+\.ts)$", playlist, flags=re.M)
            sizes = [(folder / f"{h}p" / name).stat().st_size for name in segs]
            peak, average = peak_and_average(sizes, lengths, target=2.0)
            declared_peak, declared_average = int(attrs["BANDWIDTH"]), int(attrs["AVERAGE-BANDWIDTH"])
            assert peak <= declared_peak <= 1.1 * peak, (uri, declared_peak, peak)
            assert average <= declared_average <= 1.1 * average, (uri, declared_average, average)
            assert declared_average <= declared_peak and declared_peak >= LADDER[h]
            # Key frames aligned: every segment starts with one, at the same times in every rendition.
            firsts = [first_packet(folder / f"{h}p" / name) for name in segs]
            assert all(flags.startswith("K") for _, flags in firsts), (uri, firsts)
            segment_starts.append([round(t, 3) for t, _ in firsts])
        assert all(starts == segment_starts[0] for starts in segment_starts), segment_starts

        summary = json.loads((folder / "ladder.json").read_text())
        assert [r["name"] for r in summary["renditions"]] == [f"{h}p" for h in heights]
