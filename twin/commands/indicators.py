"""`twin indicators` (the scorecard) and `twin report` (the expert report and public pages).

    twin indicators PROJECT [--state S ...] [--engines all|none|LIST] [--json] [--no-cache]
    twin report PROJECT -o report.html [--engines ...] [--public-dir DIR]

`--engines` picks the runs the scorecard may start: all (default), none (static indicators
only, seconds), or a comma list of stormwater, traffic, evacuation, sunlight. Indicators of
engines left out are null with the reason.
"""
from __future__ import annotations

import sys
import textwrap


def _engines(text: str) -> set[str]:
    from twin.errors import TwinError
    from twin.indicators import ENGINES

    if text == "all":
        return set(ENGINES)
    if text == "none":
        return set()
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    unknown = chosen - set(ENGINES)
    if unknown:
        raise TwinError(f"--engines: unknown {', '.join(sorted(unknown))}; choose all, none or some of {', '.join(ENGINES)}")
    return chosen


class _Progress:
    def __init__(self, label: str) -> None:
        self.label = label
        self.bar = None

    def __call__(self, done: int, total: int, what: str) -> None:
        if not sys.stderr.isatty():
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.label, file=sys.stderr, leave=False)
        self.bar.set_postfix_str(what[:40])
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _EngineProgress:
    """A tqdm bar on stderr (when a terminal) per engine run, fed with fractions 0–1."""

    def __init__(self) -> None:
        self.bar = None
        self.run = None

    def __call__(self, engine: str, state: str, fraction: float) -> None:
        if not sys.stderr.isatty():
            return
        from tqdm import tqdm

        if self.run != (engine, state):
            self.close()
            self.run = (engine, state)
            self.bar = tqdm(total=100, desc=f"{engine} {state}", unit="%", file=sys.stderr, leave=False)
        self.bar.n = int(round(100 * min(max(fraction, 0.0), 1.0)))
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _scorecard(args):
    from twin.engine_cache import Runs
    from twin.indicators import scorecard
    from twin.project import load_project

    project = load_project(args.project)
    engines = _engines(args.engines)
    engine_bar = _EngineProgress()
    runs = Runs(project, engines=engines, cache=not args.no_cache, progress=engine_bar)
    bar = _Progress("scorecard")
    try:
        return project, scorecard(project, states=args.state or None, engines=engines, progress=bar, runs=runs), runs
    finally:
        bar.close()
        engine_bar.close()


def cmd_indicators(args) -> int:
    from twin.indicators import json_rows
    from twin.report import format_value

    project, card, _ = _scorecard(args)
    if args.json:
        print(json_rows(card))
        return 0
    states = card["states"]
    standards = {s["id"]: s for s in card["standards"]}
    name_width, cell_width = 58, 16
    print(f"\n  {'':{name_width}} " + " ".join(f"{s[:cell_width]:>{cell_width}}" for s in states))
    for standard_id, standard in standards.items():
        print(f"\n{standard['name_en']} / {standard['name_zh']}  " + "  ".join(
            f"{s}: {_index(card['index'][s][standard_id]['index'])}" for s in states))
        for row in card["indicators"]:
            if row["standard"] != standard_id:
                continue
            cells = []
            for s in states:
                v = row["values"][s]
                mark = {True: "✓", False: "✗", None: " "}[v["passed"]]
                cells.append(f"{format_value(v['value'], row['unit']):>{cell_width - 2}} {mark}")
            # the whole name, wrapped; the values on its last line
            *lead, last = textwrap.wrap(row["name_en"], name_width) or [""]
            for line in lead:
                print(f"  {line}")
            print(f"  {last:{name_width}} " + " ".join(cells))
    print("\noverall index: " + ", ".join(f"{s} {_index(card['index'][s]['overall']['index'])}" for s in states))
    missing = {v["note"] for row in card["indicators"] for v in row["values"].values() if v["value"] is None and v["note"]}
    for note in sorted(missing):
        print(f"  {note}")
    return 0


def _index(value) -> str:
    return "—" if value is None else f"{value:.0f}"


def cmd_report(args) -> int:
    from pathlib import Path

    from twin.errors import OutputError
    from twin.report import gather, write_public_pages, write_report

    # both destinations checked before minutes of engine runs, so a typo costs nothing and writes nothing
    if not Path(args.output).parent.is_dir():
        raise OutputError(f"cannot write {args.output}: folder {Path(args.output).parent} does not exist")
    if args.public_dir and not Path(args.public_dir).is_dir():
        raise OutputError(f"cannot write public pages: folder {args.public_dir} does not exist")
    project, card, runs = _scorecard(args)
    extras = gather(project, card, runs)
    path = write_report(project, card, runs, args.output, extras)
    print(f"wrote {path}")
    if args.public_dir:
        for page in write_public_pages(project, card, runs, args.public_dir, extras):
            print(f"wrote {page}")
    return 0


def register(subcommands) -> None:
    for name, handler, help_text in (
            ("indicators", cmd_indicators, "the beautiful-community scorecard of every state"),
            ("report", cmd_report, "expert report (one self-contained HTML) and public pages")):
        p = subcommands.add_parser(name, help=help_text)
        p.add_argument("project", help="project folder or project.toml")
        p.add_argument("--state", action="append", help="only this state (repeatable; default all)")
        p.add_argument("--engines", default="all", help="all (default), none, or a comma list of stormwater,traffic,evacuation,sunlight")
        p.add_argument("--no-cache", action="store_true", help="run engines again even when a cached run matches")
        if name == "indicators":
            p.add_argument("--json", action="store_true", help="print the list of indicators as JSON")
        else:
            p.add_argument("-o", "--output", required=True, help="output .html")
            p.add_argument("--public-dir", help="also write one bilingual public page per proposal here")
        p.set_defaults(func=handler)
