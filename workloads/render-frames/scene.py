"""Render frames of a procedurally built animation with Blender, headless:

    blender -b --factory-startup -noaudio -P scene.py -- --first 1 --count 12 --out frames

The whole scene is built here from code (no .blend file to ship): a ring of spheres riding a travelling
wave around a spinning monkey head on a checkered floor, seen by a swaying camera.
Every object's pose is a pure function of the frame number, so any task can render any frame range on
its own and the frames of all tasks join seamlessly. So is the sampling noise's seed (the frame number):
the same seed on every frame would freeze the noise pattern on the screen while the scene moves.

Writes <out>/frame_NNNN.exr, scene-linear half-float OpenEXR (what a compositing pipeline keeps; the
merge makes the display-referred preview and video from it), and <out>/frame_NNNN.json with the
frame's seed and the Blender version that rendered it (versions render differently: the merge refuses a
mix).
"""

import argparse
import colorsys
import json
import math
import sys
import time
from pathlib import Path

import bpy

# Blender keeps its own arguments; ours come after `--`.
argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
parser = argparse.ArgumentParser(prog="scene.py")
parser.add_argument("--first", type=int, required=True, help="first frame to render (1-based)")
parser.add_argument("--count", type=int, required=True, help="frames to render from --first")
parser.add_argument("--frames", type=int, default=48, help="frames of the whole loop (the animation's length)")
parser.add_argument("--width", type=int, default=320)
parser.add_argument("--height", type=int, default=180)
parser.add_argument("--samples", type=int, default=10, help="Cycles samples per pixel")
parser.add_argument("--spheres", type=int, default=10)
parser.add_argument("--out", type=Path, default=Path("frames"))
args = parser.parse_args(argv)


def material(name, color, metallic=0.0, roughness=0.4, checker=None):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Metallic"].default_value = metallic
    bsdf.inputs["Roughness"].default_value = roughness
    if checker:
        tex = nodes.new("ShaderNodeTexChecker")
        tex.inputs["Scale"].default_value = checker
        tex.inputs["Color1"].default_value = (0.55, 0.56, 0.6, 1.0)
        tex.inputs["Color2"].default_value = (0.12, 0.13, 0.16, 1.0)
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def build_scene():
    # Start from an empty scene: --factory-startup's default cube, light and camera go.
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene

    bpy.ops.mesh.primitive_plane_add(size=30)
    bpy.context.object.data.materials.append(material("floor", (1, 1, 1), roughness=0.6, checker=12))

    bpy.ops.mesh.primitive_monkey_add(size=1.6, location=(0, 0, 1.3))
    monkey = bpy.context.object
    bpy.ops.object.shade_smooth()
    monkey.modifiers.new("smooth", "SUBSURF").levels = 1
    monkey.data.materials.append(material("gold", (1.0, 0.72, 0.3), metallic=1.0, roughness=0.25))

    spheres = []
    for i in range(args.spheres):
        bpy.ops.mesh.primitive_uv_sphere_add(radius=0.45, segments=24, ring_count=12)
        sphere = bpy.context.object
        bpy.ops.object.shade_smooth()
        rgb = colorsys.hsv_to_rgb(i / args.spheres, 0.85, 0.9)
        sphere.data.materials.append(material(f"sphere{i}", rgb, roughness=0.3))
        spheres.append(sphere)

    bpy.ops.object.light_add(type="SUN", rotation=(math.radians(50), 0, math.radians(30)))
    bpy.context.object.data.energy = 2.2
    bpy.ops.object.light_add(type="AREA", location=(0, -4, 6))
    bpy.context.object.data.energy = 200.0
    bpy.context.object.data.size = 4.0

    world = bpy.data.worlds.new("sky")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.35, 0.45, 0.6, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.6
    scene.world = world

    bpy.ops.object.empty_add(location=(0, 0, 1.0))
    target = bpy.context.object
    bpy.ops.object.camera_add()
    camera = bpy.context.object
    camera.data.lens = 30
    aim = camera.constraints.new("TRACK_TO")
    aim.target, aim.track_axis, aim.up_axis = target, "TRACK_NEGATIVE_Z", "UP_Y"
    scene.camera = camera

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = args.samples
    # Debian's Blender is built without OpenImageDenoise: with denoising on, rendering fails.
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 4  # few bounces: this is a demo, not a beauty pass
    scene.render.use_persistent_data = True  # keep the scene's render data between the frames of this task
    scene.render.resolution_x, scene.render.resolution_y = args.width, args.height
    scene.render.resolution_percentage = 100
    # The preview's look: sRGB of the linear values. EXR itself stores scene-linear light, untouched.
    scene.view_settings.view_transform = "Standard"  # saturated colours; Filmic washes them out
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "16"  # half float: plenty for 8- or 10-bit deliveries
    scene.render.image_settings.exr_codec = "ZIP"  # lossless
    scene.render.image_settings.color_mode = "RGB"
    scene.frame_start, scene.frame_end = 1, args.frames
    return scene, monkey, spheres, camera


def pose(frame, monkey, spheres, camera):
    """Place everything for `frame`: one full loop over --frames, so the last frame meets the first."""
    phase = 2 * math.pi * (frame - 1) / args.frames
    monkey.rotation_euler = (0, 0, phase)
    for i, sphere in enumerate(spheres):
        angle = 2 * math.pi * i / len(spheres)
        sphere.location = (3.2 * math.cos(angle), 3.2 * math.sin(angle),
                           0.45 + 0.9 * max(0.0, math.sin(2 * phase - 2 * angle)))
    swing = -1.2 + 0.6 * math.sin(phase)  # the camera sways back and forth around the scene
    camera.location = (9 * math.cos(swing), 9 * math.sin(swing), 4.5)


scene, monkey, spheres, camera = build_scene()
last = min(args.first + args.count - 1, args.frames)
out = args.out.resolve()
out.mkdir(parents=True, exist_ok=True)
for frame in range(args.first, last + 1):
    started = time.monotonic()
    scene.frame_set(frame)
    pose(frame, monkey, spheres, camera)
    scene.cycles.seed = frame  # a new noise pattern per frame, the same one whichever task renders it
    scene.render.filepath = str(out / f"frame_{frame:04d}.exr")
    bpy.ops.render.render(write_still=True)
    (out / f"frame_{frame:04d}.json").write_text(json.dumps(
        {"frame": frame, "seed": scene.cycles.seed, "samples": args.samples,
         "blender": bpy.app.version_string}) + "\n")
    print(f"frame {frame}: {time.monotonic() - started:.2f}s", flush=True)
