"""The `twin` command line.

    twin info PATH [--state S] [--json]       what a file or project state holds
    twin export PATH -o OUT.glb [--state S] [--diff-against BASE]
    twin diff A.ifc B.ifc [--json]            or: twin diff PROJECT [BASE] OTHER
    twin demo [PROJECT] [-o OUT]              load, diff and export every state of a project

PATH is an .ifc / .ifczip file or a project (a folder with project.toml, or the file).
Bad input ends with one line `error: ...` on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from twin.errors import TwinError
from twin.model import Twin

SAMPLE_PROJECT = Path(__file__).resolve().parent.parent / "ifc_models" / "sample_community"


class _Bar:
    """A tqdm progress bar on stderr for the loader's progress(done, total, what) calls."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled and sys.stderr.isatty() or enabled == "always"
        self.bar = None

    def __call__(self, done: int, total: int, what: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=f"{self.label}: {what}", unit="el", file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def load_path(path: str, state: str | None = None, *, quiet: bool = False, cache: bool = True) -> Twin:
    """A Twin from an IFC path or a project's state (baseline when state is None)."""
    from twin.ifc import load_ifc
    from twin.project import is_project_path, load_project, load_state

    bar = _Bar(Path(path).name if state is None else state, enabled=not quiet)
    try:
        if is_project_path(path):
            project = load_project(path)
            return load_state(project, state or project.baseline.name, cache=cache, progress=bar)
        if state is not None:
            raise TwinError(f"{path}: --state applies to projects; this is a single IFC file")
        return load_ifc(path, cache=cache, progress=bar)
    finally:
        bar.close()


def info_dict(twin: Twin) -> dict[str, Any]:
    """What `twin info --json` prints."""
    layers = twin.layers
    surfaces_m2 = sum(s.area_m2 for s in layers.surfaces)
    site_m2 = float(layers.site_boundary.area) if layers.site_boundary is not None else None
    return {
        "name": twin.name,
        "source": twin.source,
        "schema": twin.schema,
        "crs": twin.crs,
        "origin": list(twin.origin),
        "elements": len(twin.elements),
        "meshes": len(twin.meshes),
        "elements_with_mesh": sum(1 for e in twin.elements.values() if e.mesh_id is not None),
        "by_class": twin.by_class(),
        "layers": layers.counts(),
        "residents": sum(b.residents for b in layers.buildings),
        "dwelling_units": sum(b.dwelling_units for b in layers.buildings),
        "site_area_m2": site_m2,
        "surface_area_m2": surfaces_m2,
        "defaults_used": layers.defaults,
        "warnings": list(twin.warnings) + list(layers.warnings),
    }


def _print_info(info: dict[str, Any]) -> None:
    print(f"{info['name']}  ({info['source']})")
    print(f"  schema {info['schema']}, CRS {info['crs'] or 'none (not georeferenced)'}, origin "
          + ", ".join(f"{v:.2f}" for v in info["origin"]))
    print(f"  {info['elements']} elements ({info['elements_with_mesh']} with geometry, {info['meshes']} distinct meshes)")
    print("  by class: " + ", ".join(f"{k} {v}" for k, v in info["by_class"].items()))
    print("  layers:   " + ", ".join(f"{k} {v}" for k, v in info["layers"].items()))
    print(f"  residents {info['residents']} in {info['dwelling_units']} dwellings")
    if info["site_area_m2"]:
        share = info["surface_area_m2"] / info["site_area_m2"] * 100
        print(f"  site {info['site_area_m2'] / 1e4:.2f} ha; surfaces {info['surface_area_m2'] / 1e4:.2f} ha ({share:.1f} % of site)")
    if info["defaults_used"]:
        print("  defaults used (property missing in the file, see docs/ifc_mapping.md): "
              + ", ".join(f"{k} ×{v}" for k, v in info["defaults_used"].items()))
    for warning in info["warnings"]:
        print(f"  warning: {warning}")


def cmd_info(args) -> int:
    twin = load_path(args.path, args.state, quiet=args.json)
    info = info_dict(twin)
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        _print_info(info)
    return 0


def cmd_export(args) -> int:
    from twin.diff import diff_twins
    from twin.export import export_glb

    twin = load_path(args.path, args.state)
    base = load_path(args.path, args.diff_against) if args.diff_against else None
    diff = diff_twins(base, twin) if base is not None else None
    stats = export_glb(twin, args.output, diff=diff, colour_by="diff" if diff else "class", removed_from=base)
    print(f"wrote {args.output}: {stats.nodes} nodes, {stats.meshes} meshes, {stats.bytes / 1e6:.1f} MB")
    return 0


def _diff_operands(paths: list[str]) -> tuple[Twin, Twin]:
    from twin.project import is_project_path, load_project

    if is_project_path(paths[0]):
        project = load_project(paths[0])
        if len(paths) == 2:
            names = [project.baseline.name, paths[1]]
        elif len(paths) == 3:
            names = paths[1:]
        else:
            raise TwinError("usage: twin diff PROJECT [BASE] OTHER")
        return load_path(paths[0], names[0]), load_path(paths[0], names[1])
    if len(paths) != 2:
        raise TwinError("usage: twin diff A.ifc B.ifc (or twin diff PROJECT [BASE] OTHER)")
    return load_path(paths[0]), load_path(paths[1])


def cmd_diff(args) -> int:
    from twin.diff import diff_twins

    base, other = _diff_operands(args.paths)
    diff = diff_twins(base, other)
    if args.json:
        print(json.dumps(diff.to_json(), ensure_ascii=False))
        return 0
    summary = diff.summary()
    print(f"{base.name} → {other.name}: " + ", ".join(f"{k} {v}" for k, v in summary["counts"].items()))
    for cls, counts in summary["by_class"].items():
        changed = {k: v for k, v in counts.items() if k != "unchanged" and v}
        if changed:
            print(f"  {cls}: " + ", ".join(f"{k} {v}" for k, v in changed.items()))
    return 0


def cmd_demo(args) -> int:
    from twin.diff import diff_twins
    from twin.export import export_glb
    from twin.plan import cjk_font, plan_map, side_by_side
    from twin.project import load_project, load_state, warm_cache

    project = load_project(args.project)
    out = Path(args.output) / project.name
    out.mkdir(parents=True, exist_ok=True)
    print(f"Community Twin demo: {project.title_en or project.name} {project.title_zh}")
    started = time.perf_counter()
    warmed = warm_cache(project)
    if warmed:
        print(f"loaded {len(warmed)} IFC files in parallel in {time.perf_counter() - started:.1f} s")
    twins: dict[str, Twin] = {}
    for spec in project.states:
        started = time.perf_counter()
        bar = _Bar(spec.name, enabled=True)
        try:
            twins[spec.name] = load_state(project, spec.name, progress=bar)
        finally:
            bar.close()
        twin = twins[spec.name]
        info = info_dict(twin)
        (out / f"{spec.name}.info.json").write_text(json.dumps(info, ensure_ascii=False, indent=1))
        print(f"\n[{spec.name}] {spec.title_en} / {spec.title_zh} — loaded in {time.perf_counter() - started:.1f} s")
        _print_info(info)
    base = twins[project.baseline.name]
    base_spec = project.baseline
    print()
    for spec in project.states:
        twin = twins[spec.name]
        path = out / f"{spec.name}.glb"
        stats = export_glb(twin, path)
        print(f"wrote {path} ({stats.nodes} nodes, {stats.meshes} meshes, {stats.bytes / 1e6:.1f} MB)")
        plan_path = plan_map(twin, out / f"{spec.name}.png", title=f"{spec.title_en} ({spec.name})")
        print(f"wrote {plan_path} (plan view of the layers)")
        if spec.name == base.name:
            continue
        diff = diff_twins(base, twin)
        diff_path = out / f"{spec.name}.diff.glb"
        stats = export_glb(twin, diff_path, diff=diff, colour_by="diff", removed_from=base)
        (out / f"{spec.name}.diff.json").write_text(json.dumps(diff.to_json(), ensure_ascii=False))
        counts = diff.summary()["counts"]
        print(f"wrote {diff_path} (against {base.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")")
        for lang in ("en", "zh") if cjk_font() else ("en",):
            captions = (base_spec.title_zh or base_spec.title_en, spec.title_zh or spec.title_en) if lang == "zh" else (base_spec.title_en, spec.title_en)
            picture = side_by_side(base, twin, out / f"{base.name}_vs_{spec.name}.{lang}.png", diff, captions=captions, lang=lang)
            print(f"wrote {picture} (before | after, {lang})")
    if not cjk_font():
        print("(no CJK font found: Chinese pictures skipped; install fonts-noto-cjk to get them)")
    print(f"\nDone. Look at the PNG plans in {out}; open the GLB files with any glTF viewer,")
    print("or see before and after in 3D in the browser: `twin serve` (`make demo` starts it next and prints the URL)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twin", description=("Community Twin: IFC/CIM models of a residential community as one 3D twin; traffic, "
                                                               "stormwater and evacuation simulations on every state, the scorecard and report, the browser viewer."))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="schema, CRS, element counts by class, layer counts, warnings")
    p.add_argument("path", help=".ifc / .ifczip file, or a project folder / project.toml")
    p.add_argument("--state", help="state of a project (default: its baseline)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("export", help="write a state as GLB (one node per element, named by GlobalId)")
    p.add_argument("path")
    p.add_argument("-o", "--output", required=True, help="output .glb path")
    p.add_argument("--state")
    p.add_argument("--diff-against", metavar="STATE", help="colour by diff status against this state of the project")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("diff", help="added / removed / changed elements between two states")
    p.add_argument("paths", nargs="+", metavar="PATH", help="A.ifc B.ifc, or PROJECT [BASE] OTHER")
    p.add_argument("--json", action="store_true", help="print the full list as JSON")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("demo", help="load, diff and export every state of a project (default: the sample community)")
    p.add_argument("project", nargs="?", default=str(SAMPLE_PROJECT))
    p.add_argument("-o", "--output", default="out", help="output folder (default: out/)")
    p.set_defaults(func=cmd_demo)
    from twin.commands import register_all

    register_all(sub)  # engines and scorecard: twin/commands/*.py
    parser.subcommands = sub  # so front ends (server/cli.py adds `serve`) can add their own
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except TwinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
