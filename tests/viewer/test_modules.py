"""The viewer's module graph as index.html announces it (no browser needed).

index.html lists every module of the viewer's static import graph as a modulepreload link, so
the browser fetches them all at once instead of discovering them one import level at a time
(three.core.js is three levels down). A module added without its link would load late and slow
the first frame again; these tests follow the imports from the page's two entry scripts, as the
browser resolves them through the import map, and compare.
"""
from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

VIEWER = Path(__file__).resolve().parents[2] / "viewer"
THREE = VIEWER / "node_modules" / "three"
STATIC_IMPORT = re.compile(r"""^\s*(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]""", re.M)


def index_html() -> str:
    return (VIEWER / "index.html").read_text(encoding="utf-8")


def import_map() -> dict[str, str]:
    block = re.search(r'<script type="importmap">(.*?)</script>', index_html(), re.S)
    return json.loads(block.group(1))["imports"]


def file_of(url: str) -> Path:
    """The file the server sends for a URL (server/static.py)."""
    for prefix, folder in (("/viewer/", VIEWER), ("/vendor/three/build/", THREE / "build"),
                           ("/vendor/three/addons/", THREE / "examples" / "jsm")):
        if url.startswith(prefix):
            return folder / url[len(prefix):]
    raise AssertionError(f"{url}: not a URL the server serves")


def resolve(specifier: str, importer: str, imports: dict[str, str]) -> str:
    if specifier in imports:
        return imports[specifier]
    for prefix, target in imports.items():
        if prefix.endswith("/") and specifier.startswith(prefix):
            return target + specifier[len(prefix):]
    assert specifier.startswith("."), f"{importer}: bare import {specifier!r} the import map does not map"
    return posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))


def static_graph(entries: list[str]) -> set[str]:
    imports = import_map()
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        text = file_of(url).read_text(encoding="utf-8")
        for match in STATIC_IMPORT.finditer(text):
            todo.append(resolve(match.group(1) or match.group(2), url, imports))
    return seen


def test_every_module_of_the_graph_is_preloaded_and_nothing_else():
    html = index_html()
    entries = re.findall(r'<script type="module" src="([^"]+)"', html)
    assert entries == ["/viewer/js/prefetch.js", "/viewer/js/main.js"], entries
    preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
    assert len(preloaded) == len(set(preloaded)), "a module is preloaded twice"
    graph = static_graph(entries)
    assert "/vendor/three/build/three.core.js" in graph  # followed through three.module.js
    assert len(graph) >= 25
    missing = graph - set(entries) - set(preloaded)
    assert not missing, f"modules imported but not preloaded in index.html: {sorted(missing)}"
    extra = set(preloaded) - graph
    assert not extra, f"preloaded but never imported: {sorted(extra)}"


def test_prefetch_needs_no_three_js():
    """prefetch.js runs while three.js is still loading: its graph must stay tiny."""
    graph = static_graph(["/viewer/js/prefetch.js"])
    assert graph == {"/viewer/js/prefetch.js", "/viewer/js/api.js", "/viewer/js/state.js"}, graph
    # ... and its modules are the first fetched.
    preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)">', index_html())
    assert preloaded[:2] == ["/viewer/js/api.js", "/viewer/js/state.js"], preloaded[:3]
