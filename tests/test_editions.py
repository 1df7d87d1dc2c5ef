"""The translated editions: whole and faithful to the English notebooks, and the mechanism itself.

The first tests look at the course's own catalogs and ``notebooks/zh/``: they fail while a
message is untranslated, a catalog is stale, an edition is missing or drifted, or English prose
is left in one (``python -m nethelpers editions check`` says the same). The others check the
mechanism on notebooks and catalogs of their own, in a temporary folder.
"""

import copy
import json
import shutil
from pathlib import Path

import polib
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nethelpers import editions
from nethelpers.i18n import EDITIONS

from strategies import budget

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
STEMS = sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb"))


# The course's editions.

@pytest.mark.parametrize("stem", STEMS)
def test_the_notebook_has_a_complete_faithful_edition(stem):
    found = editions.problems(NOTEBOOKS, [stem])
    assert not found, f"{stem}: {len(found)} problem(s) with its editions:\n" + "\n".join(found)


def test_every_edition_notebook_has_an_english_source():
    for edition in EDITIONS:
        for path in sorted((NOTEBOOKS / edition).glob("*.ipynb")):
            assert path.stem in STEMS, f"{path}: an edition of no notebook in notebooks/: remove it"


def test_english_prose_is_seen_in_every_english_notebook():
    """The prose heuristic finds English in the English notebooks, so an untranslated block cannot
    pass it unseen."""
    for stem in STEMS:
        markdown = "\n\n".join(editions._cells(editions._read(NOTEBOOKS / f"{stem}.ipynb"), "markdown"))
        assert editions.english_prose(markdown), f"{stem}: the prose heuristic sees no English in it"


@pytest.mark.parametrize("text", [
    "在 `docker0` 上，数据包经 VXLAN 隧道（VNI 42）到达 node2。",
    "见 [04b](04b-bridge-memory-and-ip.ipynb) 与 <img src=\"../img/a.png\" alt=\"the whole picture here\">",
    "内核回应“Network is unreachable”；Docker 文档（*Port publishing and mapping*）。",
    "```sh\n# the bridge is on the host\nip link show docker0\n```",
    "用 Zero to JupyterHub 部署；`ip route get 10.168.1.3 from 172.17.0.2 iif docker0`",
])
def test_what_is_not_prose_passes(text):
    assert editions.english_prose(text) == []


@pytest.mark.parametrize("text, run", [
    ("网桥 floods the frame to every port", "floods the frame to every port"),
    ("> What the write-up says, in English", "What the write-up says"),
    ("- the bridge learns the MAC address", "the bridge learns the MAC address"),
])
def test_english_prose_is_named(text, run):
    assert run in " ".join(editions.english_prose(text))


# The mechanism, on notebooks of its own.

def _notebook(*cells):
    return {"cells": [{"cell_type": kind, "id": f"cell-{number}", "metadata": {}, "source": source,
                       **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                      for number, (kind, source) in enumerate(cells)],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _save(notebook, path):
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")


def _translate_all(root, lang="zh_CN", skip=()):
    for po_path in (root / "locale" / lang).glob("*.po"):
        po = polib.pofile(str(po_path), wrapwidth=0)
        for entry in po:
            if not entry.obsolete and not entry.msgstr and entry.msgid not in skip:
                entry.msgstr = "译：" + entry.msgid
        po.save(str(po_path))


@pytest.fixture
def course(tmp_path):
    """A course of two notebooks, extracted and translated, with its edition built (not run)."""
    _save(_notebook(("markdown", "# One\n\nA [link](../labs/x.yml) here.\n\n```sh\nip link\n\nip addr\n```"),
                    ("code", "print('../labs')\n"), ("markdown", "Moved block."), ("code", "x = 1")),
          tmp_path / "01-one.ipynb")
    _save(_notebook(("markdown", "# Two"), ("code", "y = 2")), tmp_path / "02-two.ipynb")
    editions.extract(tmp_path, "zh_CN")
    _translate_all(tmp_path)
    assert editions.build(tmp_path, run=False, say=lambda line: None) == ["01-one", "02-two"]
    return tmp_path


def _entry(root, stem, msgid):
    po = polib.pofile(str(root / "locale" / "zh_CN" / f"{stem}.po"), wrapwidth=0)
    return next(e for e in po if e.msgid == msgid)


def test_a_built_course_has_no_problems_and_links_climb_one_level_more(course):
    assert editions.problems(course) == []
    edition = json.loads((course / "zh" / "01-one.ipynb").read_text())
    assert "](../../labs/x.yml)" in "".join(edition["cells"][0]["source"])


def test_a_changed_english_block_becomes_untranslated_and_its_old_translation_obsolete(course):
    notebook = json.loads((course / "01-one.ipynb").read_text())
    notebook["cells"][2]["source"] = "Moved block, now longer."
    _save(notebook, course / "01-one.ipynb")
    assert any("stale" in line for line in editions.problems(course))
    editions.extract(course, "zh_CN")
    found = editions.problems(course)
    assert any("untranslated: 'Moved block, now longer.'" in line for line in found), found
    po = polib.pofile(str(course / "locale" / "zh_CN" / "01-one.po"), wrapwidth=0)
    assert [e.msgid for e in po.obsolete_entries()] == ["Moved block."]
    assert "skipped, 1 message(s) untranslated" in "".join(_built_lines(course))


def _built_lines(root):
    lines = []
    editions.build(root, run=False, say=lines.append)
    return lines


def test_a_block_moved_to_another_notebook_keeps_its_translation(course):
    translated = _entry(course, "01-one", "Moved block.").msgstr
    one, two = (json.loads((course / name).read_text()) for name in ("01-one.ipynb", "02-two.ipynb"))
    two["cells"].append(one["cells"].pop(2))
    _save(one, course / "01-one.ipynb")
    _save(two, course / "02-two.ipynb")
    editions.extract(course, "zh_CN")
    assert _entry(course, "02-two", "Moved block.").msgstr == translated


def test_an_edition_whose_code_or_markdown_drifted_is_named(course):
    path = course / "zh" / "01-one.ipynb"
    edition = json.loads(path.read_text())
    edition["cells"][1]["source"] = "print('changed')\n"
    edition["cells"][2]["source"] = "Moved block."
    _save(edition, path)
    found = "\n".join(editions.problems(course))
    assert "01-one.ipynb: code cells differ" in found and "01-one.ipynb: markdown differs" in found
    assert "English prose in markdown cell" not in found  # two words: below the heuristic's three


def test_missing_and_orphan_editions_are_named(course):
    (course / "zh" / "02-two.ipynb").unlink()
    shutil.copy(course / "zh" / "01-one.ipynb", course / "zh" / "03-gone.ipynb")
    found = "\n".join(editions.problems(course))
    assert "02-two.ipynb: missing" in found and "03-gone.ipynb: an edition of no notebook" in found


def test_english_left_in_a_catalog_is_named_with_its_notebook(course):
    po_path = course / "locale" / "zh_CN" / "01-one.po"
    po = polib.pofile(str(po_path), wrapwidth=0)
    po.find("# One").msgstr = "# One: the notebook that shows it"
    po.save(str(po_path))
    editions.build(course, run=False, say=lambda line: None)
    found = editions.problems(course)
    assert any("01-one.ipynb: English prose in markdown cell 1: 'the notebook that shows it'" in line
               for line in found), found


def test_an_omitted_block_and_an_all_omitted_cell_are_left_out(course):
    po_path = course / "locale" / "zh_CN" / "02-two.po"
    po = polib.pofile(str(po_path), wrapwidth=0)
    po.find("# Two").flags.append(editions.OMIT)
    po.save(str(po_path))
    edition = editions.render(course / "02-two.ipynb", po_path)
    assert [cell["cell_type"] for cell in edition["cells"]] == ["code"]


# blocks() and render(), over generated markdown and notebooks.

_WORD = st.text(st.sampled_from("abcxyz #*-_>[]()`~.:|0123456789网桥"), min_size=1, max_size=12)
_LINE = _WORD.filter(lambda s: s.strip() and not s.strip().startswith(("```", "~~~")))


@st.composite
def _fence(draw):
    marker = draw(st.sampled_from(["```", "~~~"]))
    inner = draw(st.lists(st.one_of(_LINE, st.just(""), st.just("   ")), max_size=5))
    return "\n".join([marker + draw(st.sampled_from(["", "sh", "python"])), *inner, marker])


@st.composite
def _block(draw):
    """A markdown block: paragraph, list, quote or table lines, with fenced code anywhere in it."""
    prefix = draw(st.sampled_from(["", "- ", "1. ", "> ", "| ", "  "]))
    parts = draw(st.lists(st.one_of(st.lists(_LINE.map(lambda s: prefix + s).filter(lambda s: not editions._FENCE.match(s)),
                                             min_size=1, max_size=3)
                                    .map("\n".join), _fence()), min_size=1, max_size=3))
    return "\n".join(parts)


@budget(100)
@given(st.lists(_block(), min_size=1, max_size=6))
def test_blocks_round_trip(found):
    assert editions.blocks("\n\n".join(found)) == found


_CODE = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@budget(50)
@given(st.lists(st.one_of(st.tuples(st.just("markdown"), st.lists(_block(), min_size=1, max_size=3)
                                    .map("\n\n".join)),
                          st.tuples(st.just("code"), _CODE)), max_size=6))
def test_render_keeps_code_cells_byte_identical(tmp_path_factory, cells):
    root = tmp_path_factory.mktemp("render")
    source = _notebook(*cells)
    for cell in source["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": cell["source"]}]
    _save(source, root / "nb.ipynb")
    editions.extract(root, "zh_CN")
    _translate_all(root)
    edition = editions.render(root / "nb.ipynb", root / "locale" / "zh_CN" / "nb.po")
    code = [cell for cell in copy.deepcopy(source)["cells"] if cell["cell_type"] == "code"]
    assert [c for c in edition["cells"] if c["cell_type"] == "code"] == code
    assert json.dumps(code, ensure_ascii=False) == json.dumps(
        [c for c in edition["cells"] if c["cell_type"] == "code"], ensure_ascii=False)
    assert len(edition["cells"]) == len(source["cells"])


def test_a_quote_of_the_chinese_write_up_may_keep_its_english_words(course):
    """A write-up quote is copied as it is (its msgstr is its msgid); an English block copied so is not."""
    notebook = json.loads((course / "02-two.ipynb").read_text())
    notebook["cells"].append({"cell_type": "markdown", "id": "quote", "metadata": {},
                              "source": "> 比如：Network namespace | PID namespaces and so on\n\nThe bridge is on the host."})
    _save(notebook, course / "02-two.ipynb")
    editions.extract(course, "zh_CN")
    po_path = course / "locale" / "zh_CN" / "02-two.po"
    po = polib.pofile(str(po_path), wrapwidth=0)
    for entry in po:
        entry.msgstr = entry.msgstr or entry.msgid
    po.save(str(po_path))
    editions.build(course, run=False, say=lambda line: None)
    found = "\n".join(editions.problems(course))
    assert "'The bridge is on the host'" in found and "PID namespaces" not in found


_HAN = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80), min_size=1, max_size=4)


@budget(100)
@given(st.lists(st.tuples(_HAN, st.sampled_from(["\n", "\n  ", "\n- ", "\n> ", "\nx "])), min_size=1, max_size=6),
       _HAN)
def test_a_chinese_paragraph_is_joined_where_two_chinese_lines_meet_and_nowhere_else(pieces, last):
    text = "".join(han + sep for han, sep in pieces) + last
    joined = editions.join_cjk_lines(text)
    expected = "".join(han + ("" if sep in ("\n", "\n  ") else sep) for han, sep in pieces) + last
    assert joined == expected
    fenced = f"```\n{text}\n```"
    assert editions.join_cjk_lines(fenced) == fenced  # code keeps its lines
