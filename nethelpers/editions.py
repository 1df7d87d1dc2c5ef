"""The course in other languages: one source, so an edition's code can never drift from it.

The English notebooks in ``notebooks/`` are the source. For each other language there is one
gettext catalog per notebook, ``notebooks/locale/<lang>/<notebook>.po``: a message per block
of a markdown cell (blocks are separated by blank lines; a fenced code block stays whole). An
edition, ``notebooks/<edition>/``, is generated from the source and the catalogs: the same
cells in the same order, the markdown translated, the code cells copied unchanged.

A translator fills ``msgstr``. A block that has no place in an edition (for instance the
English rendering of the Chinese write-up, in the Chinese edition) is flagged ``omit`` and
left empty. When an English block changes, its old message goes obsolete and the new one
arrives untranslated, so :func:`problems` reports it until it is translated again.

    python -m nethelpers editions extract      # update the catalogs from the notebooks
    python -m nethelpers editions build        # write notebooks/zh/ from them
    python -m nethelpers editions check        # what is untranslated, stale or drifted
"""

import copy
import json
import re
from pathlib import Path

EDITIONS = {"zh": "zh_CN"}  # edition folder -> catalog language
OMIT = "omit"
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
# Markdown link and image targets that climb out of notebooks/: one level deeper in an edition.
_UP_LINK = re.compile(r"(\]\(|src=\")(\.\./)")


def _polib():
    try:
        import polib
    except ImportError:  # a maintainer's tool: the course itself never needs it
        raise SystemExit("the editions tools need polib: ./course test installs it (pip install polib)")
    return polib


def blocks(markdown):
    """The translatable blocks of a markdown cell: runs of lines between blank lines, with a
    fenced code block (which may hold blank lines) kept inside the block it opens in."""
    found, current, fenced = [], [], None
    for line in markdown.split("\n"):
        fence = _FENCE.match(line)
        if fence and fenced is None:
            fenced = fence.group(1)
        elif fence and line.strip().startswith(fenced):
            fenced = None
        if not line.strip() and fenced is None:
            if current:
                found.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        found.append("\n".join(current))
    return found


def _source(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _markdown_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "markdown"]


def _catalog_path(root, lang, stem):
    return Path(root) / "locale" / lang / f"{stem}.po"


def _read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def extract(notebooks_dir, lang):
    """Update ``locale/<lang>/<notebook>.po`` for every notebook in ``notebooks_dir``; returns
    ``{stem: (messages, untranslated)}``. Translations of blocks that still exist are kept;
    blocks that are gone become obsolete entries (``#~``)."""
    polib = _polib()
    memory = _memory(notebooks_dir, lang)
    counts = {}
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        po_path = _catalog_path(notebooks_dir, lang, path.stem)
        old = polib.pofile(str(po_path), wrapwidth=0) if po_path.exists() else None
        po = polib.POFile(wrapwidth=0)
        po.metadata = {"Project-Id-Version": "container-networking", "Language": lang,
                       "MIME-Version": "1.0", "Content-Type": "text/plain; charset=UTF-8",
                       "Content-Transfer-Encoding": "8bit"}
        seen = set()
        for number, cell in enumerate(_markdown_cells(_read(path)), 1):
            for block in blocks(_source(cell)):
                if block in seen:
                    continue
                seen.add(block)
                entry = polib.POEntry(msgid=block, msgstr="", occurrences=[(path.name, str(number))])
                before = memory.get(block)
                if before is not None:
                    entry.msgstr, entry.flags, entry.tcomment = before.msgstr, before.flags, before.tcomment
                po.append(entry)
        if old:
            for gone in old:
                if gone.msgid not in seen and (gone.msgstr or OMIT in gone.flags):
                    gone.obsolete = True
                    po.append(gone)
        po_path.parent.mkdir(parents=True, exist_ok=True)
        po.save(str(po_path))
        live = [e for e in po if not e.obsolete]
        counts[path.stem] = (len(live), sum(1 for e in live if not _done(e)))
    return counts


def _memory(notebooks_dir, lang):
    """Every translated block of ``lang``, from all its catalogs: a block that moved to another
    notebook (a notebook split in two) keeps its translation."""
    polib = _polib()
    memory = {}
    for po_path in sorted((Path(notebooks_dir) / "locale" / lang).glob("*.po")):
        for entry in polib.pofile(str(po_path), wrapwidth=0):
            if _done(entry) and (entry.msgid not in memory or not entry.obsolete):
                memory[entry.msgid] = entry
    return memory


def _done(entry):
    return bool(entry.msgstr.strip()) or OMIT in entry.flags


def _translate(markdown, catalog):
    parts = []
    for block in blocks(markdown):
        entry = catalog.get(block)
        if entry is None or not _done(entry):
            raise KeyError(block)
        if OMIT not in entry.flags:
            parts.append(_UP_LINK.sub(r"\1../\2", entry.msgstr))
    return "\n\n".join(parts)


def render(source_path, catalog_path):
    """The edition of one notebook: its cells with the markdown translated (a cell whose
    blocks are all omitted is left out) and the code cells as they are, outputs included."""
    polib = _polib()
    catalog = {entry.msgid: entry for entry in polib.pofile(str(catalog_path), wrapwidth=0)
               if not entry.obsolete}
    notebook = copy.deepcopy(_read(source_path))
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            text = _translate(_source(cell), catalog)
            if not text:
                continue
            cell["source"] = text
        cells.append(cell)
    notebook["cells"] = cells
    return notebook


def main(action, notebooks_dir="notebooks"):
    """``python -m nethelpers editions extract``: update the catalogs and say what is left."""
    if action == "extract":
        for edition, lang in EDITIONS.items():
            for stem, (messages, left) in extract(notebooks_dir, lang).items():
                print(f"{lang} {stem}: {messages} messages, {left} untranslated")
        return 0
    raise SystemExit(f"unknown editions action {action!r}: use extract")
