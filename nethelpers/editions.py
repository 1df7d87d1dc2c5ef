"""The course in other languages: one source, so an edition's code can never drift from it.

The English notebooks in ``notebooks/`` are the source. For each other language there is one
gettext catalog per notebook, ``notebooks/locale/<lang>/<notebook>.po``: a message per block
of a markdown cell (blocks are separated by blank lines; a fenced code block stays whole). An
edition, ``notebooks/<edition>/``, is generated from the source and the catalogs: the same
cells in the same order, the markdown translated, the code cells copied unchanged, then run in
the edition's folder, so that its saved outputs are its own (figures, widgets and exercise
messages speak the edition's language there: :mod:`nethelpers.i18n`).

A translator fills ``msgstr``. A block that has no place in an edition (for instance the
English rendering of the Chinese write-up, in the Chinese edition) is flagged ``omit`` and
left empty. When an English block changes, its old message goes obsolete and the new one
arrives untranslated, so :func:`problems` reports it until it is translated again.

    python -m nethelpers editions extract      # update the catalogs from the notebooks
    python -m nethelpers editions build [NB]   # write and run notebooks/zh/ (complete catalogs only)
    python -m nethelpers editions check [NB]   # what is untranslated, stale, drifted or left English

``tests/test_editions.py`` fails on whatever ``check`` reports.
"""

import copy
import json
import re
from pathlib import Path

from .i18n import EDITIONS  # edition folder -> catalog language
OMIT = "omit"
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
# Markdown link and image targets that climb out of notebooks/: one level deeper in an edition.
_UP_LINK = re.compile(r"(\]\(|src=\")(\.\./)")
# Chinese, Japanese and Korean characters and their full-width punctuation.
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_CJK_BREAK = re.compile(f"(?<=[{_CJK}])\n[ \t]*(?=[{_CJK}])")


def join_cjk_lines(markdown):
    """A translation's line breaks between two CJK characters removed, outside fenced code:
    markdown turns a line break inside a paragraph into a space, which Latin text wants and
    Chinese does not (browsers show it). Lines that start with a marker (a list item, a quote,
    a heading, a table row) start with no CJK character, so they are never joined.

    >>> join_cjk_lines("网桥在这里\n  学习。\nbridge")
    '网桥在这里学习。\nbridge'
    """
    parts, fenced = [], False
    for chunk in re.split(r"(^ {0,3}(?:```|~~~).*$)", markdown, flags=re.M):
        if _FENCE.match(chunk):
            fenced = not fenced
            parts.append(chunk)
        else:
            parts.append(chunk if fenced else _CJK_BREAK.sub("", chunk))
    return "".join(parts)


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


def _fresh_catalog(path, lang, memory, old):
    """The catalog of notebook ``path`` as :func:`extract` writes it: a message per block, the
    translations ``memory`` has, and ``old``'s translated blocks that are gone, obsolete."""
    polib = _polib()
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
                entry.msgstr, entry.flags, entry.tcomment = before.msgstr, list(before.flags), before.tcomment
            po.append(entry)
    for gone in old or ():
        if gone.msgid not in seen and (gone.msgstr or OMIT in gone.flags):
            gone.obsolete = True
            po.append(gone)
    return po


def _old_catalog(po_path):
    return _polib().pofile(str(po_path), wrapwidth=0) if po_path.exists() else None


def extract(notebooks_dir, lang):
    """Update ``locale/<lang>/<notebook>.po`` for every notebook in ``notebooks_dir``; returns
    ``{stem: (messages, untranslated)}``. Translations of blocks that still exist are kept;
    blocks that are gone become obsolete entries (``#~``)."""
    memory = _memory(notebooks_dir, lang)
    counts = {}
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        po_path = _catalog_path(notebooks_dir, lang, path.stem)
        po = _fresh_catalog(path, lang, memory, _old_catalog(po_path))
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
            parts.append(_UP_LINK.sub(r"\1../\2", join_cjk_lines(entry.msgstr)))
    return "\n\n".join(parts)


def render(source_path, catalog_path):
    """The edition of one notebook: its cells with the markdown translated (a cell whose
    blocks are all omitted is left out) and the code cells as they are, outputs included."""
    catalog = _catalog(catalog_path)
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


def _catalog(catalog_path):
    return {entry.msgid: entry for entry in _polib().pofile(str(catalog_path), wrapwidth=0) if not entry.obsolete}


def execute(notebook, folder, timeout=900):
    """Run ``notebook`` as nbval does, its kernel in ``folder`` (so nethelpers speaks the
    edition's language there, :mod:`nethelpers.i18n`); its outputs become the edition's own."""
    from nbconvert.preprocessors import ExecutePreprocessor

    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
        notebook, {"metadata": {"path": str(folder)}})
    return notebook


def build(notebooks_dir="notebooks", names=None, run=True, say=print):
    """Write ``notebooks/<edition>/<notebook>.ipynb`` for each notebook whose catalog is complete
    and up to date, executed in its folder unless ``run`` is False; returns the names built.
    ``names``: the notebooks' stems (default: all). A notebook that cannot be built is named,
    with the reason, and left as it was."""
    import nbformat

    root, built = Path(notebooks_dir), []
    for edition, lang in EDITIONS.items():
        stale = set(_stale(root, lang))
        for path in sorted(root.glob("*.ipynb")):
            if names and path.stem not in names:
                continue
            left = _untranslated(root, lang, path.stem)
            if left or path.stem in stale:
                why = f"{len(left)} message(s) untranslated" if left else "catalog stale: run editions extract"
                say(f"{edition}/{path.name}: skipped, {why}")
                continue
            notebook = nbformat.reads(json.dumps(render(path, _catalog_path(root, lang, path.stem))), as_version=4)
            target = root / edition / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if run:
                say(f"{edition}/{path.name}: executing {sum(c.cell_type == 'code' for c in notebook.cells)} "
                    "code cells ...")
                execute(notebook, target.parent.resolve())
            nbformat.write(notebook, str(target))
            say(f"{edition}/{path.name}: written")
            built.append(path.stem)
    return built


def _untranslated(root, lang, stem):
    po_path = _catalog_path(root, lang, stem)
    if not po_path.exists():
        return ["(no catalog)"]
    return [msgid for msgid, entry in _catalog(po_path).items() if not _done(entry)]


def _stale(root, lang):
    """The notebooks whose catalog :func:`extract` would change (or create)."""
    memory = _memory(root, lang)
    for path in sorted(Path(root).glob("*.ipynb")):
        po_path = _catalog_path(root, lang, path.stem)
        old = _old_catalog(po_path)
        if old is None or str(_fresh_catalog(path, lang, memory, old)) != po_path.read_text(encoding="utf-8"):
            yield path.stem


# English prose, as a heuristic: three Latin words in a row, two in lower case and one of them
# a word English sentences cannot do without. Names and acronyms (Docker, VXLAN, Zero to
# JupyterHub) pass, and so does what is quoted as it is: a program's message in quotation marks
# ("Network is unreachable"), a document's title in italics.
_FUNCTION_WORDS = frozenset(
    "the a an of to is are was were be been and or but not no in on at for with from by as that this "
    "these those it its what which when where why how you your we our they their there here has have "
    "had do does did can could will would should may might must than then so if".split())
_NAMES = ("Zero to JupyterHub", "Docker Desktop", "Dev Containers", "Jupyter Book")
_HIDDEN = [re.compile(p, re.S | re.M) for p in (
    r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$",  # fenced code
    r"(`+).+?\1",                          # code spans
    r"\]\([^)]*\)",                        # link and image targets
    r"<[^>]+>",                             # HTML tags
    r"https?://\S+",                        # bare addresses
    r"\$[^$\n]+\$",                         # LaTeX
    r"“[^”]*”|\"[^\"\n]*\"|‘[^’]*’|「[^」]*」",   # quotations
    r"(?<![*\w])\*(?!\*)[^*\n]+\*(?!\*)",          # italics (titles); not **bold**
)]
_WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[ \t,]+[A-Za-z][A-Za-z'’-]*){2,}")


def english_prose(markdown):
    """Runs of English prose left in translated markdown, outside code, link targets and HTML.

    >>> english_prose("在 `docker0` 上，[VXLAN](https://www.rfc-editor.org/rfc/rfc7348) 的 VNI 是 42")
    []
    >>> english_prose("网桥 floods the frame to every port")
    ['floods the frame to every port']
    """
    text = markdown
    for pattern in _HIDDEN:
        text = pattern.sub(" ", text)
    for name in _NAMES:
        text = text.replace(name, " ")
    found = []
    for run in _WORDS.finditer(text):
        words = re.split(r"[ \t,]+", run.group(0))
        if sum(w.lower() in _FUNCTION_WORDS for w in words) and sum(w.islower() for w in words) >= 2:
            found.append(run.group(0))
    return found


def _cells(notebook, kind):
    return [_source(cell) for cell in notebook["cells"] if cell["cell_type"] == kind]


def _first_difference(got, want):
    for number, (a, b) in enumerate(zip(got, want), 1):
        if a != b:
            return f"cell {number} of that kind: {a[:60]!r}..., expected {b[:60]!r}..."
    return f"{len(got)} such cells, expected {len(want)}"


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _quotes(catalog_path):
    """Blocks the edition keeps as the source has them because they are already Chinese (quotes
    of the write-up, English words and all): their translation is the message itself."""
    return {msgid for msgid, entry in _catalog(catalog_path).items() if entry.msgstr == msgid and _CJK.search(msgid)}


def _edition_problems(path, edition_path, catalog_path):
    """How one edition notebook differs from its source and catalog, and its English prose."""
    if not edition_path.exists():
        return [f"{edition_path}: missing: run python -m nethelpers editions build"]
    source, edition = _read(path), _read(edition_path)
    found = []
    if _cells(edition, "code") != _cells(source, "code"):
        found.append(f"{edition_path}: code cells differ from {path.name}'s: "
                     f"{_first_difference(_cells(edition, 'code'), _cells(source, 'code'))}; build it again")
    expected = _cells(render(path, catalog_path), "markdown")
    if _cells(edition, "markdown") != expected:
        found.append(f"{edition_path}: markdown differs from the catalog's: "
                     f"{_first_difference(_cells(edition, 'markdown'), expected)}; build it again")
    quoted = _quotes(catalog_path)
    for number, markdown in enumerate(_cells(edition, "markdown"), 1):
        prose = "\n\n".join(block for block in blocks(markdown) if block not in quoted)
        for run in english_prose(prose):
            found.append(f"{edition_path}: English prose in markdown cell {number}: {run!r}; "
                         "translate it in the catalog (or put a command or name in `code`)")
    return found


def problems(notebooks_dir="notebooks", names=None):
    """Everything that keeps the editions from being whole and faithful, one line each, naming
    the notebook: untranslated messages, stale catalogs (:func:`extract` would change them),
    missing editions, editions whose markdown differs from their catalog's or whose code cells
    differ from the English notebook's, English prose left in an edition, editions without a
    source. ``names``: the notebooks' stems to look at (default: all)."""
    root, found = Path(notebooks_dir), []
    for edition, lang in EDITIONS.items():
        stale = set(_stale(root, lang))
        sources = sorted(root.glob("*.ipynb"))
        for path in sources:
            if names and path.stem not in names:
                continue
            po_path = _catalog_path(root, lang, path.stem)
            if path.stem in stale:
                found.append(f"{po_path}: stale against {path.name}: run python -m nethelpers editions extract")
            left = _untranslated(root, lang, path.stem)
            found += [f"{po_path}: untranslated: {msgid[:70]!r}" for msgid in left]
            if not left and path.stem not in stale:
                found += _edition_problems(path, root / edition / path.name, po_path)
        known = {path.name for path in sources}
        found += [f"{orphan}: an edition of no notebook: remove it" for orphan in sorted((root / edition).glob("*.ipynb"))
                  if orphan.name not in known and (not names or orphan.stem in names)]
    return found


def main(action, notebooks_dir="notebooks", names=None, run=True):
    """``python -m nethelpers editions extract|build|check``."""
    if action == "extract":
        for edition, lang in EDITIONS.items():
            for stem, (messages, left) in extract(notebooks_dir, lang).items():
                print(f"{lang} {stem}: {messages} messages, {left} untranslated")
        return 0
    if action == "build":
        built = build(notebooks_dir, names, run=run)
        print(f"{len(built)} edition notebook(s) written")
        return 0
    if action == "check":
        found = problems(notebooks_dir, names)
        print("\n".join(found) if found else "the editions are complete and agree with their sources")
        return 1 if found else 0
    raise SystemExit(f"unknown editions action {action!r}: use extract, build or check")
