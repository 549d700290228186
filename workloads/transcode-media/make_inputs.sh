#!/bin/sh
# Regenerates the demo inputs in media/ from ffmpeg's built-in test sources (nothing is downloaded):
# testsrc2 draws a moving test pattern with a frame counter, sine a pure tone. The three clips differ
# in what a ladder has to cope with: 16:9 with audio, 4:3 at 30 fps, and a small 240p clip without audio
# (so no rendition above 240p is made). Kept tiny (crf 33, a few seconds) so the repository stays small.
#     sh make_inputs.sh [folder]
set -eu
out=${1:-media}
mkdir -p "$out"
enc="-c:v libx264 -preset veryfast -crf 33 -pix_fmt yuv420p -movflags +faststart"
ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=25:duration=4 \
  -f lavfi -i sine=frequency=440:sample_rate=48000:duration=4 $enc -c:a aac -b:a 64k -shortest "$out/clip-a.mp4"
ffmpeg -v error -y -f lavfi -i testsrc2=size=480x360:rate=30:duration=3 \
  -f lavfi -i sine=frequency=660:sample_rate=48000:duration=3 $enc -c:a aac -b:a 64k -shortest "$out/clip-b.mp4"
ffmpeg -v error -y -f lavfi -i testsrc2=size=426x240:rate=24:duration=5 $enc "$out/clip-c.mp4"
ls -l "$out"
