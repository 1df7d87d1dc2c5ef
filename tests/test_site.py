"""The course website, as `./course site` builds it from the executed notebooks, in each language.

Every internal link and image of the built HTML resolves (the file, and the anchor in it); no
folded check shows, while the code a reader is meant to see does; every page has a language
switch to a page that exists and says how to run the course. The build itself runs once per
session (``course_site`` in conftest.py), with a throwaway Chinese edition until the real one
is in ``notebooks/zh/``.
"""

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from nethelpers import site

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(bool(os.environ.get("NETHELPERS_ROOTLESS_RUN")),
                                reason="run once, by the outer suite: the site is the same for every user")
LINKS = {"a": "href", "link": "href", "img": "src", "script": "src", "iframe": "src", "source": "src"}


class Page(HTMLParser):
    """One built page: its anchors, its links, its visible text and its language switch."""

    def __init__(self, path):
        super().__init__()
        self.ids, self.links, self.switches, self.images, self._text, self._hidden = set(), [], [], [], [], 0
        self.feed(path.read_text(encoding="utf-8"))
        self.text = "".join(self._text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.update(v for k, v in attrs.items() if k in ("id", "name") and v)
        if attrs.get(LINKS.get(tag)):
            self.links.append(attrs[LINKS[tag]])
        if tag == "a" and "course-lang" in (attrs.get("class") or "").split():
            self.switches.append(attrs["href"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self._text.append(data)


def _pages(folder):
    """The site's pages (``_static`` holds the theme's templates, not pages)."""
    return sorted(p for p in Path(folder).rglob("*.html") if "_static" not in p.parts)


def broken_links(root):
    """Every relative link, image and script of the HTML under ``root`` whose file, or anchor in
    it, is missing: ``[(page, link, why)]``. Links to other sites are not followed."""
    root, parsed, broken = Path(root).resolve(), {}, []

    def page(path):
        if path not in parsed:
            parsed[path] = Page(path)
        return parsed[path]

    for path in _pages(root):
        for link in page(path).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(root) or not target.is_file():
                broken.append((path.relative_to(root), link, "no such file in the site"))
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in page(target).ids:
                broken.append((path.relative_to(root), link, "no such anchor"))
    return broken


def _notebook_lines(path):
    """(lines only in ``check`` cells, lines of the code cells a reader sees), each stripped,
    long enough to mean something, and found in one kind of cell only."""
    check, shown = set(), set()
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = {line.strip() for line in "".join(cell["source"]).splitlines() if len(line.strip()) > 12}
        (check if site.CHECK_TAG in cell["metadata"].get("tags", []) else shown).update(lines)
    return check - shown, shown - check


def test_both_languages_build_with_every_notebook_a_page(course_site):
    out, sources = course_site
    for edition, folder in sources.items():
        notebooks = {p.stem for p in folder.glob("*.ipynb")}
        pages = {p.stem for p in (out / edition).glob("*.html")}
        assert notebooks and notebooks | {"index", "run", "search", "genindex"} == pages
    chooser = Page(out / "index.html")
    assert {"en/index.html", "zh/index.html"} <= set(chooser.links)
    assert "Container networking, live" in Page(out / "en" / "index.html").text
    assert site.TEXT["zh"]["title"] in Page(out / "zh" / "index.html").text


def test_the_chinese_pages_show_the_chinese_edition(course_site):
    out, sources = course_site
    for notebook in sources["zh"].glob("*.ipynb"):
        markdown = "\n".join("".join(cell["source"]) for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
                             if cell["cell_type"] == "markdown")
        title = next(line for line in markdown.splitlines() if line.startswith("# "))
        assert re.sub(r"[`*]", "", title[2:]).strip() in Page(out / "zh" / f"{notebook.stem}.html").text


def test_every_internal_link_image_and_anchor_resolves(course_site):
    out, _ = course_site
    assert len(_pages(out)) > 30
    assert broken_links(out) == []


def test_the_link_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html#there">b</a><img src="gone.png">'
                                     '<a href="#top">up</a><a href="https://example.org/x">out</a>')
    (tmp_path / "b.html").write_text('<p id="here">B</p><a href="a.html#top">a</a>')
    assert sorted(broken_links(tmp_path)) == [(Path("a.html"), "b.html#there", "no such anchor"),
                                              (Path("a.html"), "gone.png", "no such file in the site")]


def test_no_check_cell_shows_and_the_code_a_reader_sees_does(course_site):
    out, sources = course_site
    hidden_somewhere = False
    for edition, folder in sources.items():
        for notebook in sorted(folder.glob("*.ipynb")):
            check, shown = _notebook_lines(notebook)
            text = Page(out / edition / f"{notebook.stem}.html").text
            assert [line for line in check if line in text] == [], f"{edition}/{notebook.name} shows a check"
            assert [line for line in shown if line not in text] == [], f"{edition}/{notebook.name} lost code"
            hidden_somewhere |= bool(check)
    assert hidden_somewhere  # the notebooks do have checks: the test looked for something
    assert not list(out.rglob("*.ipynb")), "the site offers notebooks for download: they hold the checks"


def test_exercises_are_shown_as_they_are(course_site):
    out, _ = course_site
    text = Page(out / "en" / "04-container-to-container.html").text
    assert "prediction = None" in text and "check(" in text


def test_every_page_switches_language_to_a_page_that_exists(course_site):
    out, sources = course_site
    for edition, other in (("en", "zh"), ("zh", "en")):
        for path in _pages(out / edition):
            switches = Page(path).switches
            assert len(switches) == 1, f"{path.relative_to(out)}: {switches}"
            target = (path.parent / switches[0]).resolve()
            same = out / other / path.name
            assert target == (same if same.exists() else out / other / "index.html"), path.relative_to(out)
    assert len(list(sources["zh"].glob("*.ipynb"))) >= 2


def test_every_page_says_how_to_run_it(course_site):
    out, _ = course_site
    for edition in ("en", "zh"):
        for path in (out / edition).glob("[0-9]*.html"):
            links = Page(path).links
            assert "run.html#locally" in links and "run.html#in-docker" in links, path.relative_to(out)
        run = Page(out / edition / "run.html").text
        local, docker = site.readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
        for command in local.splitlines() + docker.splitlines():
            assert command.strip() in run


def test_figures_and_the_mermaid_ladder_are_in_the_page(course_site):
    out, _ = course_site
    page = out / "en" / "04-container-to-container.html"
    images = [src for src in Page(page).images if src.endswith(".png")]
    assert len(images) >= 2 and all((page.parent / src).stat().st_size > 1000 for src in images)
    raw = page.read_text(encoding="utf-8")
    assert re.search(r'<pre\s+class="mermaid">\s*sequenceDiagram', raw), "the ladder is not a Mermaid diagram"
    assert "cdn.jsdelivr" not in raw and "unpkg" not in raw  # read offline: nothing from another site


def test_the_reader_notebook_drops_checks_with_their_outputs_and_live_widgets():
    notebook = {"metadata": {"widgets": {"state": {}}}, "cells": [
        {"cell_type": "code", "metadata": {"tags": ["check"]}, "source": "assert 1",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "checked"}]},
        {"cell_type": "code", "metadata": {}, "source": "PacketExplorer(lab)", "outputs": [
            {"output_type": "display_data", "metadata": {},
             "data": {site.WIDGET_MIME: {"model_id": "x"}, "text/plain": "VBox(...)"}}]},
    ]}
    shown = site.reader_notebook(notebook, "zh")
    assert [cell["source"] for cell in shown["cells"]] == ["PacketExplorer(lab)"]
    assert shown["cells"][0]["outputs"][0]["data"] == {"text/markdown": site.TEXT["zh"]["widget"]}
    assert "widgets" not in shown["metadata"] and notebook["cells"][0]["source"] == "assert 1"


def test_editions_are_the_folders_that_hold_notebooks(tmp_path):
    (tmp_path / "notebooks" / "zh").mkdir(parents=True)
    assert site.editions(tmp_path) == {"en": tmp_path / "notebooks"}
    (tmp_path / "notebooks" / "zh" / "00-setup.ipynb").write_text("{}")
    assert site.editions(tmp_path)["zh"] == tmp_path / "notebooks" / "zh"


def test_bad_input_names_the_value_and_what_to_do(tmp_path):
    with pytest.raises(site.SiteError, match="'## Start'"):
        site.readme_commands("# A README without its commands\n")
    with pytest.raises(site.SiteError, match="'fr=.*EDITION=FOLDER"):
        site.parse_editions([f"fr={tmp_path}"])
    with pytest.raises(site.SiteError, match="no notebooks to build the zh edition"):
        site.build(tmp_path / "out", {"zh": tmp_path})
