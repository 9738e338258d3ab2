"""Sunlight ray casting against Intel Embree (through trimesh + embreex), in one run: agreement and speed.

    .venv/bin/python benchmarks/sunlight.py [--state baseline] [--step-min 1]

Scene: the sample community's obstruction triangles (twin.sunlight.obstruction_triangles) and
one ray per dwelling and sun position of the Great Cold day (8:00–16:00 true solar time, every
`--step-min` minutes), for the rays whose sun is in front of the facade. Ours: the numba grid
walk of twin/kernels.py (after one warm-up call, so no compile time). Anchor: Embree's
`intersects_any` on the same rays (trimesh.ray.ray_pyembree; BVH build timed with it).
Prints both masks' agreement, rays per second of each and the ratio.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twin.project import load_project, load_state  # noqa: E402
from twin.sunlight import SunlightSettings, dwellings_of, obstruction_triangles, site_latitude, sun_directions, sunlit  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=str(Path(__file__).resolve().parent.parent / "ifc_models" / "sample_community"))
    parser.add_argument("--state", default="baseline")
    parser.add_argument("--step-min", type=float, default=1.0)
    args = parser.parse_args(argv)

    import trimesh
    from trimesh.ray import has_embree

    if not has_embree:
        print("Embree is not installed: pip install embreex (the anchor of this benchmark)")
        return 2
    from trimesh.ray.ray_pyembree import RayMeshIntersector

    twin = load_state(load_project(args.project), args.state)
    latitude, _ = site_latitude(twin)
    settings = SunlightSettings(latitude_deg=latitude, step_min=args.step_min)
    dwellings = dwellings_of(twin, settings)
    triangles = obstruction_triangles(twin)
    suns = sun_directions(latitude, settings.declination(), settings.times_h())
    print(f"{args.state}: {len(dwellings.ids)} dwellings × {len(suns)} sun positions, {len(triangles)} triangles")

    sunlit(dwellings.points[:2], dwellings.normals[:2], triangles, suns[:2])  # warm-up: load the compiled kernel
    started = time.perf_counter()
    ours = sunlit(dwellings.points, dwellings.normals, triangles, suns)
    ours_s = time.perf_counter() - started

    in_front = (dwellings.normals @ suns.T > 0) & (suns[:, 2] > 0)[None, :]
    p_index, k_index = np.nonzero(in_front)
    origins = dwellings.points[p_index]
    directions = suns[k_index]
    started = time.perf_counter()
    mesh = trimesh.Trimesh(vertices=triangles.reshape(-1, 3), faces=np.arange(3 * len(triangles)).reshape(-1, 3), process=False)
    engine = RayMeshIntersector(mesh)
    # Embree reports hits from the origin on; our kernel ignores hits closer than 1e-6 of the ray
    # parameter, so start Embree's rays 1 mm along their direction
    blocked = engine.intersects_any(origins + 1e-3 * directions, directions)
    embree_s = time.perf_counter() - started
    anchor = np.zeros_like(ours)
    anchor[p_index, k_index] = ~blocked

    rays = len(origins)
    agree = float((anchor[p_index, k_index] == ours[p_index, k_index]).mean())
    hours_ours = ours.sum(axis=1) * args.step_min / 60.0
    hours_anchor = anchor.sum(axis=1) * args.step_min / 60.0
    print(f"agreement: {100 * agree:.3f} % of {rays} rays; largest difference in a dwelling's hours: "
          f"{60 * np.abs(hours_ours - hours_anchor).max():.1f} min")
    print(f"ours (numba grid walk):  {ours_s:.3f} s, {rays / ours_s / 1e6:.2f} M rays/s")
    print(f"Embree (BVH build + query): {embree_s:.3f} s, {rays / embree_s / 1e6:.2f} M rays/s")
    print(f"ratio ours/Embree time: {ours_s / embree_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
