"""twin.report: the expert report and the public pages of the sample community are single
self-contained HTML files that open in headless Chromium without any request leaving the file,
carry every indicator for every state, and trace each number to its run."""
import base64
import os
import re
from pathlib import Path

import pytest

from twin.cli import SAMPLE_PROJECT, main
from twin.engine_cache import Runs
from twin.indicators import load_definitions, scorecard
from twin.project import load_project
from twin.report import gather, write_public_pages, write_report

CHROMIUM = Path(os.environ.get("TWIN_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
INSTALL_HELP = ("install the browser-test pieces: `apt-get install -y chromium fonts-noto-cjk` and "
                "`pip install playwright` (never `playwright install`)")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    project = load_project(SAMPLE_PROJECT)
    project.settings["sunlight_step_min"] = 10.0  # coarser sun sampling keeps the test quick
    runs = Runs(project, engines={"sunlight"})
    card = scorecard(project, states=["baseline", "proposal_a"], engines={"sunlight"}, runs=runs)  # two states keep it quick
    extras = gather(project, card, runs)
    report = write_report(project, card, runs, folder / "report.html", extras)
    pages = write_public_pages(project, card, runs, folder, extras)
    return {"project": project, "card": card, "report": report, "pages": pages, "extras": extras}


def _images(text):
    return re.findall(r'<img[^>]*src="([^"]*)"', text)


def test_report_is_self_contained_and_complete(written):
    text = written["report"].read_text(encoding="utf-8")
    assert "<script" not in text and "<link" not in text and "url(" not in text
    sources = _images(text)
    assert len(sources) == 6  # 2 renders, 3 accessibility maps, the sunlight map (no engine series here)
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    _, indicators = load_definitions()
    for indicator in indicators:
        assert f"id='ind-{indicator.id}'" in text and indicator.name_zh in text
    for state in written["card"]["states"]:
        spec = written["project"].state(state)
        assert spec.title_en in text and spec.title_zh in text
    # each computed value carries a numbered reference, and every reference is listed under Sources
    refs = set(re.findall(r'href="#src-(\d+)"', text))
    listed = set(re.findall(r"id='src-(\d+)'", text))
    assert refs and refs == listed
    computed = sum(1 for row in written["card"]["indicators"] for v in row["values"].values() if v["value"] is not None)
    assert len(re.findall(r'class="ref"', text)) == computed
    assert "twin.sunlight on proposal_a, run " in text


def test_public_pages_are_bilingual_with_five_numbers(written):
    assert [p.name for p in written["pages"]] == ["proposal_a.public.html"]
    text = written["pages"][0].read_text(encoding="utf-8")
    assert "五个关键数字" in text and "Five numbers that matter" in text
    assert text.count("<div><span class='small'>") == 5
    assert "改造前" in text and "综合整治" in text and len(_images(text)) == 2
    # what a proposal made of actions changes: its action notes, with the kinds named in Chinese
    from twin.report import _what_changes

    lines = _what_changes(written["project"], "proposal_b", {})
    assert ("拆除建筑：3wusRzUZTS_PAKOWZ0Y2Ez", "remove building: Block 17: unsafe (grade D), demolished") in lines
    # with the twins at hand the building is named, and an IFC proposal's changes are told in plain words
    lines = _what_changes(written["project"], "proposal_b", {"twins": written["extras"]["twins"]})
    assert ("拆除建筑：Block 17", "remove building: Block 17: unsafe (grade D), demolished") in lines
    lines = _what_changes(written["project"], "proposal_a", written["extras"])
    assert ("违章搭建：拆除8个", "Illegal structures: 8 removed") in lines
    assert ("加装电梯：新增45个", "Elevators: 45 added") in lines
    assert ("雨水管道：改造100个", "Storm pipes: 100 changed") in lines
    assert not any(zh.startswith("Ifc") for zh, _ in lines)


def test_report_opens_in_chromium_without_requests(written):
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: {INSTALL_HELP}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"playwright is not installed: {INSTALL_HELP}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            for path in [written["report"], *written["pages"]]:
                requests = []
                page = browser.new_page()
                page.on("request", lambda r: requests.append(r.url))
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                sizes = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
                rows = page.eval_on_selector_all("tr[id^='ind-']", "els => els.length")
                page.close()
                assert requests == [path.as_uri()], requests  # nothing but the file itself
                assert sizes and all(done and width > 100 for done, width in sizes)  # every inlined picture decoded
                if path == written["report"]:
                    assert rows == len(written["card"]["indicators"])
        finally:
            browser.close()


def test_report_to_a_missing_folder_is_an_error(tmp_path, capsys):
    status = main(["report", str(SAMPLE_PROJECT), "-o", str(tmp_path / "nowhere" / "r.html"), "--engines", "none", "--state", "baseline"])
    assert status == 2
    assert "error: cannot write" in capsys.readouterr().err


def test_a_missing_public_folder_is_refused_before_anything_runs_or_is_written(tmp_path, capsys, monkeypatch):
    import twin.commands.indicators as command

    monkeypatch.setattr(command, "_scorecard", lambda args: pytest.fail("the scorecard ran before the folders were checked"))
    report = tmp_path / "r.html"
    status = main(["report", str(SAMPLE_PROJECT), "-o", str(report), "--public-dir", str(tmp_path / "public")])
    assert status == 2 and not report.exists()
    assert f"error: cannot write public pages: folder {tmp_path / 'public'} does not exist" in capsys.readouterr().err
