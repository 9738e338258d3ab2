"""The expert report (one self-contained HTML file) and the bilingual public page per proposal.

The expert report holds the scorecard of every state (value, pass/fail, change against the
baseline, and a numbered reference to the run or the twin layers that produced each number),
the methods and assumptions of every indicator and engine (parameters, seed, versions), the
plots (walking-distance maps, sunlight maps, engine series and distributions) and 3D
before/after renders. Every picture is a PNG inlined as a data: URI and the page has no
script, stylesheet or font from elsewhere, so it opens offline and sends no request.

A public page (zh/en) per proposal says what changes, shows five headline numbers (the first
five computed ones of the `[public] headline` list in indicators.toml) and its pictures.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import importlib.metadata
import platform
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from twin.atomic import write_atomically
from twin.errors import OutputError

OP_TEXT = {">=": "≥ {v}", "<=": "≤ {v}", "los<=": "LOS {v} or better", "not_worse": "not worse than baseline",
           "better": "better than baseline", "declared": "declared"}
OP_TEXT_ZH = {">=": "≥ {v}", "<=": "≤ {v}", "los<=": "服务水平不低于{v}", "not_worse": "不劣于改造前",
              "better": "优于改造前", "declared": "已申报"}
ACTION_ZH = {"remove_building": "拆除建筑", "remove": "拆除构件", "add_building": "新建建筑", "add_element": "新增设施",
             "set_property": "调整属性"}
"""Chinese names of the retrofit action kinds of twin.actions (for the public pages)."""
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:1280px;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em;width:100%}th,td{border:1px solid #d4d4d4;padding:.3em .5em;vertical-align:top}
th{background:#f3f3f3;text-align:left}td.num{text-align:right}td:first-child{min-width:16em}
.pass{color:#17702a;font-weight:600}.fail{color:#b3261e;font-weight:600}.na{color:#888}
.ref{font-size:.75em;color:#666;vertical-align:super;text-decoration:none}
.note{font-size:.8em;color:#777}.std td{background:#fafafa;font-weight:600}
img{max-width:100%;border:1px solid #e5e5e5}figure{margin:1em 0}figcaption{font-size:.85em;color:#555}
.pair{display:flex;gap:1em;flex-wrap:wrap}.pair figure{flex:1 1 45%}
.big{display:flex;gap:.8em;flex-wrap:wrap}.big div{flex:1 1 0;min-width:11em;border:1px solid #ddd;border-radius:6px;padding:.8em;background:#fafafa}
.big b{font-size:1.6em;display:block}.small{font-size:.85em;color:#555}
"""


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(png: bytes, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(alt)}" src="{_data_uri(png)}">{cap}</figure>'


def _e(text: Any) -> str:
    return html.escape(str(text))


def format_value(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes 是" if value else "no 否"
    if isinstance(value, str):
        return value
    if unit == "%":
        return f"{value:.1f} %"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}"


def target_text(target: dict, unit: str, *, zh: bool = False) -> str:
    value = target["value"]
    shown = value if isinstance(value, str) else format_value(value, unit)
    return (OP_TEXT_ZH if zh else OP_TEXT)[target["op"]].format(v=shown)


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("numpy", "shapely", "networkx", "numba", "matplotlib", "pyvista", "vtk", "simpy", "ifcopenshell", "pyswmm", "eclipse-sumo", "jupedsim"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).resolve().parent).stdout.strip()
        if commit:
            versions["community-twin commit"] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    return versions


class _Sources:
    """Numbered references for the sources of the values."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def ref(self, source: str | None) -> str:
        if not source:
            return ""
        if source not in self.items:
            self.items.append(source)
        n = self.items.index(source) + 1
        return f'<a class="ref" href="#src-{n}" title="{_e(source)}">[{n}]</a>'


def _titles(project, *, short: bool = False) -> dict[str, str]:
    """State name → 'English / 中文' title (`short`: 'English\n中文', for plot panels)."""
    joint = "\n" if short else " / "
    return {s.name: f"{s.title_en}{joint}{s.title_zh}" if s.title_zh else s.title_en for s in project.states}


# ------------------------------------------------------------------------------ sections

def _scorecard_html(card: dict, titles: dict[str, str], sources: _Sources) -> str:
    states = card["states"]
    head = "".join(f"<th>{_e(titles.get(s, s))}</th>" for s in states)
    out = ["<h2 id='scorecard'>Scorecard 评价结果</h2>", "<table><tr><th>Standard 标准</th>" + head + "</tr>"]
    for standard in card["standards"]:
        cells = "".join(f"<td class='num'>{_index(card['index'][s][standard['id']])}</td>" for s in states)
        out.append(f"<tr><td>{_e(standard['name_en'])} {_e(standard['name_zh'])}</td>{cells}</tr>")
    overall = "".join(f"<td class='num'><b>{_fmt_index(card['index'][s]['overall']['index'])}</b></td>" for s in states)
    out.append(f"<tr><td><b>Overall index 综合指数</b></td>{overall}</tr></table>")
    out.append("<p class='note'>Index of a standard = 100 × indicators passed ÷ indicators decided (a value and a target that "
               "applies); overall = mean of the standards' indices. Indicators without a value do not count.</p>")
    out.append("<table><tr><th>Indicator 指标</th><th>Target 目标</th>" + "".join(
        f"<th>{_e(titles.get(s, s))}</th>" for s in states) + "</tr>")
    for standard in card["standards"]:
        out.append(f"<tr class='std'><td colspan='{2 + len(states)}'>{_e(standard['name_en'])} · {_e(standard['name_zh'])}</td></tr>")
        for row in card["indicators"]:
            if row["standard"] != standard["id"]:
                continue
            cells = []
            for s in states:
                v = row["values"][s]
                mark = {True: "<span class='pass'>✓ pass</span>", False: "<span class='fail'>✗ fail</span>", None: ""}[v["passed"]]
                change = ""
                if v["change"] is not None and s != states[0] and v["change"] != 0:
                    change = f"<br><span class='note'>{'+' if v['change'] > 0 else ''}{format_value(v['change'], row['unit'])} vs baseline</span>"
                note = f"<br><span class='note'>{_e(v['note'])}</span>" if v["note"] else ""
                value = format_value(v["value"], row["unit"]) if v["value"] is not None else "<span class='na'>null</span>"
                cells.append(f"<td class='num'>{value} {sources.ref(v.get('source'))} {mark}{change}{note}</td>")
            out.append(f"<tr id='ind-{_e(row['id'])}'><td>{_e(row['name_en'])}<br>{_e(row['name_zh'])}</td>"
                       f"<td>{_e(target_text(row['target'], row['unit']))}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _index(entry: dict) -> str:
    return f"{_fmt_index(entry['index'])} <span class='note'>({entry['passed']}/{entry['decided']})</span>"


def _fmt_index(value) -> str:
    return "—" if value is None else f"{value:.0f}"


def _methods_html(card: dict, project, runs, extras: dict) -> str:
    out = ["<h2 id='methods'>Methods and assumptions 方法与假设</h2>", "<h3>Indicators 指标</h3><table>"
           "<tr><th>Indicator</th><th>How it is computed</th><th>Target and its source</th></tr>"]
    for row in card["indicators"]:
        out.append(f"<tr><td>{_e(row['name_en'])}<br><span class='note'>{_e(row['id'])}</span></td><td>{_e(row['computed'])}</td>"
                   f"<td>{_e(target_text(row['target'], row['unit']))} — {_e(row['target_source'])}</td></tr>")
    out.append("</table><h3>Project settings (project.toml [settings]) 项目参数</h3><table>")
    for key, value in project.settings.items():
        out.append(f"<tr><td>{_e(key)}</td><td>{_e(value)}</td></tr>")
    out.append("</table>")
    from twin.access import SNAP_M

    out.append("<h3>Walking network 步行网络</h3><p>Centrelines of the community's roads, lanes and paths and the CIM "
               "context's city streets; the two meet only at open gates. Entrances, service points, hydrants and green "
               f"spaces are joined by straight links to the nearest walkway; road ends within {SNAP_M:g} m of another road "
               "are joined to it. Shortest paths by Dijkstra (networkx); a building's distance is that of its nearest entrance. "
               "Life-circle radii: 5 min = 300 m, 10 min = 500 m, 15 min = 1,000 m (GB 50180-2018).</p><table>"
               "<tr><th>State</th><th>Nodes</th><th>Edges</th></tr>")
    for state, network in extras.get("networks", {}).items():
        out.append(f"<tr><td>{_e(state)}</td><td class='num'>{network.graph.number_of_nodes()}</td>"
                   f"<td class='num'>{network.graph.number_of_edges()}</td></tr>")
    out.append("</table>")
    sunlight = extras.get("sunlight", {})
    if sunlight:
        s = next(iter(sunlight.values())).settings
        source = next(iter(sunlight.values())).latitude_source
        out.append("<h3>Sunlight 日照</h3><p>GB 50180-2018 §4.0.9: Yantai is in building climate zone II with more than "
                   "500,000 urban residents, so each dwelling needs ≥ 2 h of sun on the Great Cold day (大寒日) within "
                   "8:00–16:00 true solar time; additions must not push neighbours below it, elevators added to existing "
                   "dwellings excepted. Method in twin/sunlight.py: one sample per dwelling on the main (most southerly) "
                   "facade at its storey's window sill; rays to the sun against the twin's building meshes and the context's "
                   "blocks.</p><table>")
        for key, value in (("latitude", f"{s.latitude_deg:.4f}° N ({source})"), ("solar declination", f"{s.declination():.2f}° (day {s.day_of_year})"),
                           ("window", f"{s.start_h:g}–{s.end_h:g} h true solar time"), ("sampling step", f"{s.step_min:g} min"),
                           ("required", f"{s.required_h:g} h"), ("window sill", f"{s.sill_height_m:g} m above the floor"),
                           ("facade offset", f"{s.facade_offset_m:g} m")):
            out.append(f"<tr><td>{_e(key)}</td><td>{_e(value)}</td></tr>")
        out.append("</table>")
    out.append("<h3>Engine runs 模拟运行</h3><table><tr><th>Engine</th><th>State</th><th>Run key</th><th>Version</th>"
               "<th>Settings override</th><th>Seconds</th><th>Cached</th><th>Outcome</th></tr>")
    for entry in runs.provenance():
        outcome = entry.get("error") or (f"{entry.get('dwellings')} dwellings, {entry.get('triangles')} triangles" if entry["engine"] == "sunlight" else "ok")
        override = entry.get("overrides") or ("without added elevators" if entry.get("without_added_elevators") else "")
        out.append(f"<tr><td>{_e(entry['engine'])}</td><td>{_e(entry['state'])}</td><td><code>{_e(entry.get('key', '')[:12])}</code></td>"
                   f"<td>{_e(entry.get('engine_name', ''))} {_e(entry.get('engine_version', '') or '')}</td><td>{_e(override or '')}</td>"
                   f"<td class='num'>{_e(entry.get('seconds', ''))}</td><td>{_e(entry.get('cached', ''))}</td><td>{_e(outcome)}</td></tr>")
    out.append(f"</table><p class='note'>Seed shared by the engines: {_e(project.settings.get('seed', 'not set'))}. A run key is "
               "the SHA-256 of the engine, the state, the bytes of its input files, the settings and the engine's source code; "
               "cached runs are reused only when all of these match.</p>")
    out.append("<h3>Software versions 软件版本</h3><table>" + "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in _versions().items()) + "</table>")
    return "\n".join(out)


def _sunlight_tables(extras: dict, titles: dict[str, str]) -> str:
    out = [_sunlight_buildings(extras, titles)]
    for state, comparison in extras.get("comparisons", {}).items():
        out.append(f"<h3>{_e(titles.get(state, state))}: dwellings whose sunlight changes 日照变化住宅</h3>")
        out.append(f"<p>{len(comparison.worse)} dwellings get less sun, {len(comparison.better)} more; "
                   f"{len(comparison.violations)} pushed below the standard (not allowed), {len(comparison.exempt)} pushed below "
                   "only by added elevator shafts (exempt, GB 50180-2018 §4.0.9).</p>")
        rows = sorted(comparison.violations + comparison.exempt, key=lambda r: r["after_h"]) + \
            sorted(comparison.worse, key=lambda r: r["after_h"] - r["before_h"])[:15]
        if rows:
            out.append("<table><tr><th>Dwelling (building/storey/unit)</th><th>Building</th><th>Before (h)</th><th>After (h)</th>"
                       "<th>After without added elevators (h)</th></tr>")
            seen = set()
            for r in rows:
                if r["dwelling"] in seen:
                    continue
                seen.add(r["dwelling"])
                out.append(f"<tr><td><code>{_e(r['dwelling'])}</code></td><td>{_e(r['building'])}</td><td class='num'>{r['before_h']:.2f}</td>"
                           f"<td class='num'>{r['after_h']:.2f}</td><td class='num'>{r['without_added_elevators_h']:.2f}</td></tr>")
            out.append("</table><p class='note'>All pushed-below dwellings, then the 15 largest losses.</p>")
    return "\n".join(out)


def _access_tables(extras: dict, titles: dict[str, str]) -> str:
    """Per state, per residential building: residents and the walk to each service type (m)."""
    import math

    from twin.access import building_distances, service_sources

    out = []
    for state, twin in extras["twins"].items():
        network = extras["networks"][state]
        services = sorted({key.split(":")[1] for key in network.attached if key.startswith("service:")})
        distances = {svc: building_distances(twin, network, service_sources(network, svc)) for svc in services}
        head = "".join(f"<th>{_e(svc.replace('_', ' '))} (m)</th>" for svc in services)
        rows = []
        for b in twin.layers.buildings:
            if not b.residential:
                continue
            cells = "".join(f"<td class='num'>{'unreachable' if math.isinf(distances[svc][b.global_id]) else f'{distances[svc][b.global_id]:.0f}'}</td>"
                            for svc in services)
            rows.append(f"<tr><td>{_e(b.name or b.global_id)} <span class='note'>{_e(b.global_id)}</span></td>"
                        f"<td class='num'>{b.residents}</td>{cells}</tr>")
        out.append(f"<details><summary>Per building: {_e(titles.get(state, state))}</summary><table><tr><th>Building</th>"
                   f"<th>Residents</th>{head}</tr>{''.join(rows)}</table></details>")
    return "\n".join(out)


def _emergency_table(extras: dict, titles: dict[str, str]) -> str:
    """Per-building fire-engine access times when the traffic result carries them."""
    prefix = "emergency_access_s/"
    runs = extras.get("engine_runs", {}).get("traffic", {})
    per_state = {s: {k[len(prefix):]: m.value for k, m in run.result.metrics.items() if k.startswith(prefix)} for s, run in runs.items()}
    if not any(per_state.values()):
        return ""
    buildings = sorted({gid for values in per_state.values() for gid in values})
    names = {b.global_id: b.name for twin in extras["twins"].values() for b in twin.layers.buildings}
    head = "".join(f"<th>{_e(titles.get(s, s))} (s)</th>" for s in per_state)
    rows = "".join(f"<tr><td>{_e(names.get(gid) or gid)}</td>" + "".join(
        f"<td class='num'>{per_state[s].get(gid, float('nan')):.0f}</td>" for s in per_state) + "</tr>" for gid in buildings)
    return f"<h3>Emergency access per building 应急通达时间</h3><table><tr><th>Building</th>{head}</tr>{rows}</table>"


def _engine_metrics_tables(extras: dict, titles: dict[str, str]) -> str:
    """Every metric of every engine run (value, unit, meaning), under its run key."""
    out = []
    for engine, by_state in extras.get("engine_runs", {}).items():
        for state, run in by_state.items():
            rows = "".join(f"<tr><td><code>{_e(name)}</code></td><td class='num'>{_e(f'{m.value:.6g}' if isinstance(m.value, float) else m.value)}</td>"
                           f"<td>{_e(m.unit)}</td><td>{_e(m.meaning)}</td></tr>" for name, m in run.result.metrics.items())
            out.append(f"<details><summary>{_e(engine)} on {_e(titles.get(state, state))}: all metrics of run "
                       f"<code>{_e(run.key[:12])}</code></summary><table><tr><th>Metric</th><th>Value</th><th>Unit</th>"
                       f"<th>Meaning</th></tr>{rows}</table></details>")
    return "\n".join(out)


def _sunlight_buildings(extras: dict, titles: dict[str, str]) -> str:
    """Per residential building and state: dwellings, least and mean hours of sun, dwellings below the standard."""
    import numpy as np

    results = extras["sunlight"]
    states = list(results)
    per: dict[str, dict[str, tuple]] = {}
    names: dict[str, str] = {}
    for state, result in results.items():
        building = np.array(result.dwellings.building)
        meets = result.meets()
        for gid in dict.fromkeys(result.dwellings.building):
            mask = building == gid
            per.setdefault(gid, {})[state] = (int(mask.sum()), float(result.hours[mask].min()), float(result.hours[mask].mean()),
                                              int((~meets[mask]).sum()))
            names[gid] = result.dwellings.building_name[int(np.argmax(mask))]
    head = "".join(f"<th>{_e(titles.get(s, s))}<br><span class='note'>least / mean h, below</span></th>" for s in states)
    rows = []
    for gid, by_state in per.items():
        cells = "".join(f"<td class='num'>{v[1]:.2f} / {v[2]:.2f} h, {v[3]} of {v[0]}</td>" if (v := by_state.get(s)) else "<td>—</td>"
                        for s in states)
        rows.append(f"<tr><td>{_e(names[gid])} <span class='note'>{_e(gid)}</span></td>{cells}</tr>")
    return (f"<details><summary>Per building: hours of sun on the Great Cold day</summary><table><tr><th>Building</th>{head}</tr>"
            f"{''.join(rows)}</table></details>")


# ------------------------------------------------------------------------------ pictures

def gather(project, card: dict, runs) -> dict:
    """Twins, networks, sunlight results and comparisons the pictures need (reusing the runs)."""
    from twin.access import build_walk_network
    from twin.indicators import NotComputed
    from twin.project import load_state
    from twin.sunlight import compare_states

    states = card["states"]
    twins = {s: load_state(project, s) for s in states}
    extras: dict[str, Any] = {"twins": twins, "networks": {s: build_walk_network(t) for s, t in twins.items()},
                              "sunlight": {}, "comparisons": {}, "engine_runs": {}}
    if "sunlight" in runs.engines:
        try:
            extras["sunlight"] = {s: runs.sunlight(s).result for s in states}
            base = extras["sunlight"][project.baseline.name]
            for s in states:
                if s != project.baseline.name:
                    without = runs.sunlight(s, without_added_elevators=True).result
                    extras["comparisons"][s] = compare_states(base, extras["sunlight"][s], without)
        except NotComputed:
            extras["sunlight"] = {}
    for engine in ("stormwater", "traffic", "evacuation"):
        if engine not in runs.engines:
            continue
        for s in states:
            try:
                extras["engine_runs"].setdefault(engine, {})[s] = runs.engine(s, engine)
            except NotComputed:
                continue
    return extras


def _engine_figures(extras: dict, titles: dict[str, str]) -> list[str]:
    from twin.report_figures import distribution_plot, series_plot

    out = []
    captions = {"stormwater": "Design-storm hydrographs and flows (stormwater engine)",
                "traffic": "Traffic engine series (morning peak)",
                "evacuation": "Cumulative evacuation curves (evacuation engine)"}
    for engine, by_state in extras.get("engine_runs", {}).items():
        names = sorted({name for run in by_state.values() for name in run.result.series})
        if not names:
            continue
        out.append(f"<h3>{_e(captions[engine])}</h3><div class='pair'>")
        for name in names:
            runs = {s: run.result.series[name] for s, run in by_state.items() if name in run.result.series}
            unit = next(iter(runs.values())).unit
            keys = ", ".join(f"{s}: run {run.key[:12]}" for s, run in by_state.items())
            if "travel_time" in name or "distribution" in name:
                png = distribution_plot({s: ser.values for s, ser in runs.items()}, name, unit, titles)
            else:
                if unit == "m/s" and name.startswith("rain"):  # rainfall intensity reads in mm/h
                    from sim.result import Series

                    runs = {s: Series(times_s=ser.times_s, values=[v * 3.6e6 for v in ser.values], unit="mm/h") for s, ser in runs.items()}
                    unit = "mm/h"
                png = series_plot(runs, name, titles, ylabel=f"{name.replace('_', ' ')} ({unit})")
            out.append(_img(png, name, f"{name} ({unit}) — {keys}"))
        out.append("</div>")
    return out


def _renders(project, extras: dict, titles: dict[str, str]) -> tuple[dict[str, bytes], str]:
    """PNG per state (3D renders, or plans when offscreen rendering is impossible) and a note."""
    if "pictures" in extras:  # the report and the public pages share one set of renders
        return extras["pictures"]
    extras["pictures"] = _render_all(project, extras, titles)
    return extras["pictures"]


def _render_all(project, extras: dict, titles: dict[str, str]) -> tuple[dict[str, bytes], str]:
    from twin.report_figures import RenderUnavailable, render_state

    twins = extras["twins"]
    base = twins[project.baseline.name]
    base_ids = set(base.elements)
    pictures: dict[str, bytes] = {}
    try:
        for state, twin in twins.items():
            pictures[state] = render_state(twin, added=set(twin.elements) - base_ids if state != project.baseline.name else set())
        return pictures, "3D views rendered off screen with PyVista/VTK (new elements orange, elevator shafts red)."
    except RenderUnavailable as exc:
        from twin.plan import plan_map

        with tempfile.TemporaryDirectory() as folder:
            for state, twin in twins.items():
                path = plan_map(twin, Path(folder) / f"{state}.png", title=titles.get(state, state))
                pictures[state] = path.read_bytes()
        return pictures, f"Off-screen 3D rendering is impossible on this machine ({exc}); PNG plans from twin/plan.py instead."


# ------------------------------------------------------------------------------ documents

def expert_report_html(project, card: dict, runs, extras: dict | None = None) -> str:
    from twin.report_figures import access_map, sunlight_map

    extras = extras if extras is not None else gather(project, card, runs)
    titles, panel_titles = _titles(project), _titles(project, short=True)
    sources = _Sources()
    scorecard = _scorecard_html(card, titles, sources)
    parts = [f"<h1>{_e(project.title_en or project.name)} · {_e(project.title_zh)}</h1>",
             f"<p class='small'>Expert report 专家报告 — Community Twin, generated {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC "
             f"from {_e(project.root / 'project.toml')}. States: " + ", ".join(_e(titles[s]) for s in card["states"]) + ".</p>",
             "<p class='small'><a href='#scorecard'>Scorecard</a> · <a href='#pictures'>Before and after</a> · "
             "<a href='#access'>Accessibility</a> · <a href='#sunlight'>Sunlight</a> · <a href='#engines'>Engines</a> · "
             "<a href='#methods'>Methods</a> · <a href='#sources'>Sources</a></p>", scorecard]
    pictures, note = _renders(project, extras, titles)
    parts.append("<h2 id='pictures'>Before and after 改造前后</h2><p class='note'>" + _e(note) + "</p><div class='pair'>")
    parts += [_img(png, state, titles.get(state, state)) for state, png in pictures.items()]
    parts.append("</div>")
    parts.append("<h2 id='access'>Walking accessibility 步行可达性</h2>")
    for service, radius in (("elderly_station", 300.0), ("kindergarten", 300.0), ("community_centre", 500.0)):
        png = access_map(extras["twins"], extras["networks"], service, radius, panel_titles)
        parts.append(_img(png, f"walking distance to {service}", f"Walking distance from each residential building to the nearest {service.replace('_', ' ')}"))
    parts.append(_access_tables(extras, titles))
    parts.append("<h2 id='sunlight'>Sunlight 日照分析</h2>")
    if extras["sunlight"]:
        parts.append(_img(sunlight_map(extras["sunlight"], extras["twins"], extras["comparisons"], panel_titles), "sunlight",
                          "Hours of sun on the Great Cold day at the ground-floor window sill of each dwelling"))
        parts.append(_sunlight_tables(extras, titles))
    else:
        parts.append("<p class='na'>Sunlight not computed in this report (--engines).</p>")
    parts.append("<h2 id='engines'>Engines 模拟</h2>")
    figures = _engine_figures(extras, titles)
    parts += figures or ["<p class='na'>No engine series in this report (engines not run or not available in this build).</p>"]
    parts.append(_emergency_table(extras, titles))
    parts.append(_engine_metrics_tables(extras, titles))
    parts.append(_methods_html(card, project, runs, extras))
    parts.append("<h2 id='sources'>Sources of the numbers 数据来源</h2><ol>" + "".join(
        f"<li id='src-{n}'>{_e(text)}</li>" for n, text in enumerate(sources.items, start=1)) + "</ol>")
    return _page(f"{project.title_en or project.name} — expert report", "\n".join(parts), lang="en")


def _page(title: str, body: str, *, lang: str) -> str:
    # no external resource of any kind: a strict CSP makes the browser refuse any that slipped in
    return (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")


def write_report(project, card: dict, runs, output: str | Path, extras: dict | None = None) -> Path:
    output = Path(output)
    if not output.parent.exists():
        raise OutputError(f"cannot write {output}: folder {output.parent} does not exist")
    text = expert_report_html(project, card, runs, extras)
    return write_atomically(output, lambda stream: stream.write(text.encode("utf-8")))


# ------------------------------------------------------------------------------ public pages

def public_headline(definitions: str | Path | None = None) -> list[str]:
    from twin.indicators import DEFINITIONS

    data = tomllib.loads(Path(definitions or DEFINITIONS).read_text(encoding="utf-8"))
    return list(data.get("public", {}).get("headline", []))


def _what_changes(project, state: str, extras: dict) -> list[tuple[str, str]]:
    """(zh, en) lines saying what a proposal changes: its action notes, else the diff by IFC class."""
    from twin.diff import diff_twins

    spec = project.state(state)
    lines: list[tuple[str, str]] = []
    if spec.actions is not None:
        from twin.actions import read_actions

        _, actions = read_actions(spec.actions)
        for action in actions:
            kind, note = action.get("kind", ""), action.get("note")
            what = action.get("name") or action.get("building") or action.get("element") or action.get("key") or ""
            base = extras.get("twins", {}).get(project.baseline.name)
            thing = None if base is None else base.elements.get(what) or base.spatial.get(what)
            if thing is not None and thing.name:
                what = thing.name  # "Block 17", not a GlobalId, for residents
            zh = f"{ACTION_ZH.get(kind, kind)}：{what}" if what else ACTION_ZH.get(kind, kind)
            lines.append((zh, f"{kind.replace('_', ' ')}: {note}" if note else kind.replace("_", " ")))
        return lines
    twins = extras["twins"]
    base, other = twins[project.baseline.name], twins[state]
    diff = diff_twins(base, other)
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for gid in [*diff.added, *diff.removed, *diff.changed]:
        status = diff.status_of(gid)
        element = other.elements.get(gid) or base.elements[gid]
        label = plain_label(element)
        kind = status if status in ("added", "removed") else "changed"
        groups.setdefault(label, {"added": 0, "removed": 0, "changed": 0})[kind] += 1
    for (zh, en), counts in sorted(groups.items(), key=lambda item: -sum(item[1].values())):
        bits_zh = [f"{word}{counts[k]}个" for k, word in (("added", "新增"), ("removed", "拆除"), ("changed", "改造")) if counts[k]]
        bits_en = [f"{counts[k]} {k}" for k in ("added", "removed", "changed") if counts[k]]
        lines.append((f"{zh}：" + "，".join(bits_zh), f"{en}: " + ", ".join(bits_en)))
    return lines


PLAIN_LABELS: dict[tuple[str, str | None], tuple[str, str]] = {
    ("IfcBuildingElementProxy", "ILLEGAL_SHED"): ("违章搭建", "Illegal structures"),
    ("IfcBuildingElementProxy", None): ("其他构筑物", "Other structures"),
    ("IfcBuilding", None): ("楼栋", "Buildings"),
    ("IfcCovering", "ROOFING"): ("屋面覆盖层（如绿色屋顶）", "Roof coverings (e.g. green roofs)"),
    ("IfcDoor", "GATE"): ("小区出入口", "Community gates"),
    ("IfcDoor", None): ("门", "Doors"),
    ("IfcGeographicElement", "RAIN_GARDEN"): ("雨水花园", "Rain gardens"),
    ("IfcGeographicElement", None): ("绿地与场地", "Green space and grounds"),
    ("IfcPavement", None): ("道路路面", "Road surfaces"),
    ("IfcSlab", "PAVING"): ("铺装场地（含透水铺装）", "Paved areas (incl. permeable paving)"),
    ("IfcSlab", None): ("楼板", "Floor slabs"),
    ("IfcRoof", None): ("屋顶", "Roofs"),
    ("IfcWall", None): ("墙体", "Walls"),
    ("IfcWindow", None): ("窗", "Windows"),
    ("IfcPipeSegment", None): ("雨水管道", "Storm pipes"),
    ("IfcDistributionChamberElement", None): ("检查井", "Manholes"),
    ("IfcSpace", "PARKING"): ("停车场", "Car parks"),
    ("IfcSpace", None): ("房间与场地", "Rooms and spaces"),
    ("IfcTank", None): ("雨水蓄水池", "Rainwater storage tanks"),
    ("IfcTransportElement", "ELEVATOR"): ("加装电梯", "Elevators"),
    ("IfcTransportElement", None): ("交通设施", "Transport equipment"),
}
"""Words a resident understands for what an IFC element is: (class, object type or predefined
type) first, then the class alone; an unlisted class keeps its IFC name."""


def plain_label(element) -> tuple[str, str]:
    for kind in (element.object_type, element.predefined_type):
        if kind and (element.ifc_class, kind) in PLAIN_LABELS:
            return PLAIN_LABELS[(element.ifc_class, kind)]
    if (element.ifc_class, None) in PLAIN_LABELS:
        return PLAIN_LABELS[(element.ifc_class, None)]
    return element.ifc_class, element.ifc_class


def public_page_html(project, card: dict, state: str, extras: dict, pictures: dict[str, bytes]) -> str:
    titles = _titles(project)
    spec = project.state(state)
    rows = {row["id"]: row for row in card["indicators"]}
    chosen = [i for i in public_headline() if i in rows and rows[i]["values"][state]["value"] is not None][:5]
    big = []
    for indicator in chosen:
        row = rows[indicator]
        now, before = row["values"][state], row["values"][project.baseline.name]
        mark = {True: "✓", False: "✗", None: ""}[now["passed"]]
        big.append(f"<div><span class='small'>{_e(row['name_zh'])}<br>{_e(row['name_en'])}</span>"
                   f"<b>{_e(format_value(now['value'], row['unit']))} {mark}</b>"
                   f"<span class='small'>改造前 before: {_e(format_value(before['value'], row['unit']))}<br>"
                   f"目标 target: {_e(target_text(row['target'], row['unit'], zh=True))} / {_e(target_text(row['target'], row['unit']))}</span></div>")
    changes = "".join(f"<li>{_e(zh)}{'<br>' if zh else ''}<span class='small'>{_e(en)}</span></li>" for zh, en in _what_changes(project, state, extras))
    base_pic, pic = pictures.get(project.baseline.name), pictures.get(state)
    overall = card["index"][state]["overall"]["index"]
    overall_base = card["index"][project.baseline.name]["overall"]["index"]
    body = (f"<h1>{_e(spec.title_zh)} · {_e(spec.title_en)}</h1>"
            f"<p>{_e(project.title_zh)} · {_e(project.title_en)}</p>"
            f"<p>综合指数 Overall index: <b>{_fmt_index(overall)}</b> (改造前 before: {_fmt_index(overall_base)})</p>"
            "<h2>五个关键数字 · Five numbers that matter</h2><div class='big'>" + "".join(big) + "</div>"
            "<h2>改造内容 · What changes</h2><ul>" + changes + "</ul>"
            "<h2>改造前后 · Before and after</h2><div class='pair'>"
            + (_img(base_pic, "before", "改造前 Before") if base_pic else "") + (_img(pic, "after", "改造后 After") if pic else "")
            + "</div><p class='note'>详细方法与数据来源见专家报告。Methods and sources: see the expert report.</p>")
    return _page(f"{spec.title_zh} {spec.title_en}", body, lang="zh")


def write_public_pages(project, card: dict, runs, folder: str | Path, extras: dict | None = None) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise OutputError(f"cannot write public pages: folder {folder} does not exist")
    extras = extras if extras is not None else gather(project, card, runs)
    pictures, _ = _renders(project, extras, _titles(project))
    written = []
    for state in card["states"]:
        if state == project.baseline.name:
            continue
        text = public_page_html(project, card, state, extras, pictures)
        written.append(write_atomically(folder / f"{state}.public.html", lambda stream, t=text: stream.write(t.encode("utf-8"))))
    return written
