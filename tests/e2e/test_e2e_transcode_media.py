"""transcode-media: one task per input video, each making an HLS ladder; every rendition checked with ffprobe."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
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
        entries = re.findall(r"#EXT-X-STREAM-INF:BANDWIDTH=(\d+),RESOLUTION=(\d+)x(\d+)[^\n]*\n(\S+)", master)
        heights = [h for h in LADDER if h <= src_h]
        assert [int(h) for _, _, h, _ in entries] == heights, master
        assert [uri for *_, uri in entries] == [f"{h}p/index.m3u8" for h in heights]

        for bandwidth, width, height, uri in entries:
            h = int(height)
            # Same shape as the source (within rounding to even), H.264, as long as the source.
            assert abs(int(width) / h - src_w / src_h) < 0.02
            info = probe(folder / uri)
            v = video(info)
            assert (v["codec_name"], v["width"], v["height"], v["pix_fmt"]) == ("h264", int(width), h, "yuv420p")
            assert abs(float(info["format"]["duration"]) - src_duration) < 0.25
            assert any(s["codec_type"] == "audio" for s in info["streams"]) == src_audio
            # The advertised bandwidth covers the rung's video bitrate; the real segments stay near it.
            assert int(bandwidth) >= LADDER[h]
            media_bits = sum(p.stat().st_size for p in (folder / f"{h}p").glob("seg_*.ts")) * 8
            assert media_bits / src_duration < 1.6 * int(bandwidth)
            # Segments of at most the 2 s target, so players can switch rungs every 2 s.
            playlist = (folder / uri).read_text()
            lengths = [float(x) for x in re.findall(r"#EXTINF:([\d.]+),", playlist)]
            assert lengths and max(lengths) <= 2.05 and abs(sum(lengths) - src_duration) < 0.25
            assert "#EXT-X-ENDLIST" in playlist

        summary = json.loads((folder / "ladder.json").read_text())
        assert [r["name"] for r in summary["renditions"]] == [f"{h}p" for h in heights]
