"""The course website: every edition's executed notebooks, with their saved outputs, as HTML.

Nothing runs at build time: the pages show the outputs saved in the notebooks, as nbval checks
them. Sphinx with MyST-NB (the engine of Jupyter Book 1) renders the notebooks, their PNG
figures, and the Mermaid ladders they print (a ``text/markdown`` output holding a ```` ```mermaid ````
fence) with a copy of mermaid.js taken from npm, so the site needs no network when it is read.

Each edition (``notebooks/`` in English, ``notebooks/zh/`` in Chinese when it exists) becomes
``build/site/<edition>/``; ``build/site/index.html`` lets the reader choose. On the way the
folded checks (cells tagged ``check``) are left out, source and outputs: they are for CI, not the
reader. Exercises stay as they are. Every page carries a bar with a switch to the same page in
the other language (its index when the page is missing there) and how to run that notebook.

    ./course site      # or: python -m nethelpers site [--out build/site] [--edition zh=FOLDER]
"""

import base64
import copy
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = {"en": "en", "zh": "zh_CN"}  # edition folder -> Sphinx language
CHECK_TAG = "check"
# mermaid.js from npm, pinned by version and by the tarball's own digest (npm's "integrity").
MERMAID_VERSION = "11.17.2"
MERMAID_INTEGRITY = "sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg=="
MERMAID_FILES = ("package/dist/mermaid.esm.min.mjs", "package/dist/chunks/mermaid.esm.min/")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_NOTEBOOK_LINK = re.compile(r"\]\(([\w.-]+)\.ipynb\)")  # a markdown link to another notebook

TEXT = {
    "en": {
        "name": "English",
        "title": "Container networking, live",
        "intro": "A course on how containers talk: to each other on one Linux node, to their node, to another "
                 "node, and across nodes through an overlay. Each page is a notebook, shown with the outputs "
                 "of a run on a real Linux kernel: real namespaces, veth pairs, bridges, nftables, VXLAN, and "
                 "real packets. To run the labs yourself, see [](run.md).",
        "contents": "Notebooks",
        "run_title": "Run the course",
        "run_intro": "The pages of this site show one run of each notebook. The labs themselves need a Linux "
                     "kernel: run them on your machine, or in the course's Docker image on any machine.",
        "local_title": "On your machine",
        "local": "On a Debian or Ubuntu machine, from a clone of the course:",
        "local_after": "`./course lab` sets everything up and opens JupyterLab on `notebooks/`{where}. The "
                       "README says what the labs need and what `python -m nethelpers doctor` checks.",
        "where": "",
        "docker_title": "In Docker",
        "docker": "On any machine with Docker, from a clone of the course:",
        "docker_after": "Then open the `http://127.0.0.1:8888/lab?token=...` address it prints.",
        "run_this": "Run this notebook",
        "on_machine": "on your machine",
        "in_docker": "in Docker",
        "then_open": "then open",
        "run_course": "Run the course",
        "widget": "*An interactive widget is here in the notebook: run the notebook to use it.*",
    },
    "zh": {
        "name": "中文",
        "title": "容器网络：在真实内核上动手实验",
        "intro": "这门课讲容器之间如何通信：同一个 Linux 节点上的容器之间、容器与所在节点之间、容器与另一个节点之间，"
                 "以及通过覆盖网络跨节点通信。每一页都是一个 notebook，展示的是在真实 Linux 内核上运行一次的输出："
                 "真实的网络命名空间、veth 对、网桥、nftables、VXLAN 和真实的数据包。想亲手运行这些实验，请看 [](run.md)。",
        "contents": "Notebook 目录",
        "run_title": "运行课程",
        "run_intro": "本网站的页面展示的是每个 notebook 运行一次的结果。实验本身需要 Linux 内核："
                     "可以在自己的机器上运行，也可以在任何机器上用课程的 Docker 镜像运行。",
        "local_title": "在自己的机器上",
        "local": "在 Debian 或 Ubuntu 机器上，在课程的克隆目录中运行：",
        "local_after": "`./course lab` 会安装所需的一切，然后在 `notebooks/` 上打开 JupyterLab{where}。"
                       "README 说明了实验需要什么，以及 `python -m nethelpers doctor` 检查什么。",
        "where": "（中文版在 `notebooks/zh/`）",
        "docker_title": "在 Docker 中",
        "docker": "在任何装有 Docker 的机器上，在课程的克隆目录中运行：",
        "docker_after": "然后打开它打印出的 `http://127.0.0.1:8888/lab?token=...` 地址。",
        "run_this": "运行这个 notebook",
        "on_machine": "在自己的机器上",
        "in_docker": "在 Docker 中",
        "then_open": "然后打开",
        "run_course": "运行课程",
        "widget": "*notebook 中这里是一个交互式小部件：运行 notebook 即可使用。*",
    },
}
# The course bar at the top of the article: every page's template, and the search page's own.
TEMPLATES = {name: f'{{% extends "!{name}" %}}\n{{% block docs_body %}}{{{{ course_bar }}}}{{{{ super() }}}}{{% endblock %}}\n'
             for name in ("layout.html", "search.html")}
CSS = """.course-bar { display: flex; flex-wrap: wrap; gap: .4em 1.2em; align-items: baseline;
  padding: .5em .8em; margin-bottom: 1.5em; border-radius: .3em; font-size: .9em;
  background: var(--pst-color-surface); border: 1px solid var(--pst-color-border); }
.course-bar .course-lang { font-weight: bold; }
pre.mermaid { overflow-x: auto; }
article pre.mermaid > svg { width: max-content !important; max-width: none !important; }
"""


class SiteError(Exception):
    """The site cannot be built as asked: the message says what and what to do."""


def editions(root=ROOT):
    """``{edition: notebooks folder}`` for the editions that exist in this checkout."""
    found = {"en": Path(root) / "notebooks"}
    zh = Path(root) / "notebooks" / "zh"
    if any(zh.glob("*.ipynb")):
        found["zh"] = zh
    return found


def reader_notebook(notebook, edition, elsewhere=()):
    """A notebook as the site shows it: without its ``check`` cells (source and outputs), with
    a sentence where a live widget was (a static page cannot run one), and its links to the
    notebooks ``elsewhere`` (not in this edition) sent to their English pages."""
    notebook = copy.deepcopy(notebook)
    notebook["cells"] = [cell for cell in notebook["cells"]
                         if CHECK_TAG not in cell.get("metadata", {}).get("tags", [])]
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown" and elsewhere:
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cell["source"] = _NOTEBOOK_LINK.sub(
                lambda m: f"](en:{m.group(1)})" if m.group(1) in elsewhere else m.group(0), source)
        for output in cell.get("outputs", []):
            if WIDGET_MIME in output.get("data", {}):
                output["data"] = {"text/markdown": TEXT[edition]["widget"]}
    notebook["metadata"].pop("widgets", None)
    return notebook


def readme_commands(readme_text):
    """The README's two shell blocks: (run it locally, run it in Docker). The site quotes them
    rather than copies, so that the two say the same."""
    blocks = {}
    for heading in ("## Start", "### In Docker"):
        found = re.search(r"^" + re.escape(heading) + r"\b[^\n]*\n.*?```sh\n(.*?)```", readme_text, re.S | re.M)
        if not found:
            raise SiteError(f"README.md has no ```sh block under {heading!r}: the site's run page quotes it")
        blocks[heading] = found.group(1).strip()
    return blocks["## Start"], blocks["### In Docker"]


def _write(path, text):
    """Write ``text`` unless the file holds it already: Sphinx rebuilds only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _index_page(edition, stems):
    text = TEXT[edition]
    toc = "\n".join(stems)
    return (f"# {text['title']}\n\n{text['intro']}\n\n"
            f"```{{toctree}}\n:maxdepth: 1\n:caption: {text['contents']}\n\n{toc}\n```\n\n"
            f"```{{toctree}}\n:hidden:\n\nrun\n```\n")


def _run_page(edition, readme_text):
    text = TEXT[edition]
    local, docker = readme_commands(readme_text)
    where = text["where"] if edition != "en" else ""
    return (f"# {text['run_title']}\n\n{text['run_intro']}\n\n"
            f"(locally)=\n## {text['local_title']}\n\n{text['local']}\n\n```sh\n{local}\n```\n\n"
            f"{text['local_after'].format(where=where)}\n\n"
            f"(in-docker)=\n## {text['docker_title']}\n\n{text['docker']}\n\n```sh\n{docker}\n```\n\n"
            f"{text['docker_after']}\n")


def stage(edition, notebooks_dir, src, readme_text, english=()):
    """Write the Sphinx sources of one edition into ``src``: the reader's notebooks, an index
    and the run page. A link to a notebook of the ``english`` ones that this edition lacks goes
    to its English page. Returns the pages' names (Sphinx docnames)."""
    stems, paths = [], sorted(Path(notebooks_dir).glob("*.ipynb"))
    elsewhere = set(english) - {path.stem for path in paths}
    for path in paths:
        notebook = reader_notebook(json.loads(path.read_text(encoding="utf-8")), edition, elsewhere)
        _write(src / path.name, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        stems.append(path.stem)
    if not stems:
        raise SiteError(f"{notebooks_dir}: no notebooks to build the {edition} edition from")
    for stale in src.glob("*.ipynb"):  # a notebook renamed or removed since the last build
        if stale.stem not in stems:
            stale.unlink()
    _write(src / "index.md", _index_page(edition, stems))
    _write(src / "run.md", _run_page(edition, readme_text))
    return ["index", "run", *stems]


def mermaid_assets(cache):
    """A folder holding ``mermaid/mermaid.esm.min.mjs`` and its chunks, from npm's mermaid
    tarball (fetched once into ``cache``, checked against its pinned digest)."""
    folder = Path(cache) / f"mermaid-{MERMAID_VERSION}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    if (folder / "mermaid" / "mermaid.esm.min.mjs").exists():
        return folder
    npm = shutil.which("npm")
    if npm is None:
        raise SiteError("the site needs npm to fetch mermaid.js once (pinned, checked): sudo apt-get install npm")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([npm, "pack", f"mermaid@{MERMAID_VERSION}", "--json", "--pack-destination", tmp],
                              capture_output=True, text=True, cwd=tmp)
        if done.returncode != 0:
            raise SiteError(f"npm pack mermaid@{MERMAID_VERSION} failed: {done.stderr.strip()[-500:]}")
        tarball = Path(tmp) / json.loads(done.stdout)[0]["filename"]
        _check_integrity(tarball)
        target = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        _unpack_dist(tarball, target / "mermaid")
        try:
            target.rename(folder)
        except OSError:  # another build put it there first
            shutil.rmtree(target)
    return folder


def _unpack_dist(tarball, dest):
    """Copy the files of ``MERMAID_FILES`` from the tarball's ``package/dist/`` into ``dest``,
    as plain files (no links, nothing outside ``dest``)."""
    with tarfile.open(tarball) as tar:
        for member in tar:
            relative = member.name[len("package/dist/"):]
            if not (member.isfile() and member.name.startswith(MERMAID_FILES)) or ".." in relative.split("/"):
                continue
            path = dest / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(tar.extractfile(member).read())


def _check_integrity(tarball):
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != MERMAID_INTEGRITY:
        raise SiteError(f"{tarball.name}: digest {digest} is not the pinned {MERMAID_INTEGRITY}; not used")


def sphinx_config(edition, other, other_pages, static):
    """Sphinx's configuration for one edition, as plain data (it goes to the build's process as
    JSON); there is no conf.py: it is all here."""
    return {
        "project": TEXT[edition]["title"],
        "html_title": TEXT[edition]["title"],
        "language": LANGUAGES[edition],
        "extensions": ["myst_nb", "sphinxcontrib.mermaid", "nethelpers.site"],
        "exclude_patterns": ["**.ipynb_checkpoints"],
        "nb_execution_mode": "off",
        "nb_render_markdown_format": "myst",  # a printed ```mermaid fence becomes a diagram
        "myst_fence_as_directive": ["mermaid"],
        # en:NAME, a notebook this edition lacks, links to its English page
        "myst_url_schemes": {"http": None, "https": None, "mailto": None, "en": "../en/{{path}}.html"},
        "mermaid_use_local": "mermaid/mermaid.esm.min.mjs",
        "mermaid_fullscreen": False,
        # a ladder at its own size (its labels stay readable), scrolled sideways when wider than the page
        "mermaid_init_config": {"startOnLoad": False, "sequence": {"useMaxWidth": False}},
        "mermaid_height": "auto",
        "html_theme": "sphinx_book_theme",
        "html_theme_options": {"use_download_button": False, "home_page_in_toc": True, "show_toc_level": 2,
                               "footer_content_items": []},
        "html_static_path": [str(static["mermaid"]), str(static["css"])],
        "html_css_files": ["course.css"],
        "templates_path": [str(static["templates"])],
        "html_copy_source": False,
        "html_show_sourcelink": False,
        "html_last_updated_fmt": None,
        "course_edition": edition,
        "course_other": other or "",
        "course_other_pages": [*other_pages, "genindex", "search"],  # and Sphinx's own pages
    }


def course_bar(edition, other, other_pages, pagename, notebook):
    """The bar on top of every page: the other language's same page (or its index), and how to
    run this notebook (or the course)."""
    text, up = TEXT[edition], "../" * pagename.count("/")
    parts = []
    if other:
        target = pagename if pagename in other_pages else "index"
        parts.append(f'<a class="course-lang" lang="{LANGUAGES[other].replace("_", "-")}" '
                     f'href="{up}../{other}/{target}.html">{TEXT[other]["name"]}</a>')
    if notebook:
        parts.append(f'<span class="course-run">{text["run_this"]}: '
                     f'<a href="{up}run.html#locally">{text["on_machine"]}</a> '
                     f'(<code>./course lab</code>, {text["then_open"]} <code>{html.escape(notebook)}</code>) · '
                     f'<a href="{up}run.html#in-docker">{text["in_docker"]}</a></span>')
    else:
        parts.append(f'<a class="course-run" href="{up}run.html">{text["run_course"]}</a>')
    return f'<nav class="course-bar">{"".join(parts)}</nav>'


def _page_context(app, pagename, templatename, context, doctree):
    config = app.config
    is_notebook = (Path(app.srcdir) / f"{pagename}.ipynb").exists()
    folder = "notebooks/" if config.course_edition == "en" else f"notebooks/{config.course_edition}/"
    context["course_bar"] = course_bar(config.course_edition, config.course_other, config.course_other_pages,
                                       pagename, folder + pagename + ".ipynb" if is_notebook else None)


def setup(app):
    """Sphinx extension: the course bar on every page."""
    app.add_config_value("course_edition", "en", "html")
    app.add_config_value("course_other", "", "html")
    app.add_config_value("course_other_pages", [], "html")
    app.connect("html-page-context", _page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _sphinx(src, work, config):
    """Run one Sphinx build into ``work/html`` (MyST-NB keeps its files beside it, in ``work``).
    Each edition builds in a process of its own (``python -m nethelpers.site``): two builds share
    no global state, and the two run at once."""
    from sphinx.application import Sphinx

    app = Sphinx(str(src), None, str(Path(work) / "html"), str(Path(work) / "doctrees"), "html",
                 confoverrides=config, status=None, warning=sys.stderr)
    app.build()
    return app.statuscode


def _run_editions(jobs):
    """Build ``{edition: (src, work, config)}``, each in a child process; returns the editions that failed."""
    children = {e: subprocess.Popen([sys.executable, "-m", "nethelpers.site", json.dumps([str(src), str(work), config])],
                                    cwd=ROOT)
                for e, (src, work, config) in jobs.items()}
    return [e for e, child in children.items() if child.wait() != 0]


def _chooser(names):
    links = "\n".join(f'<li><a href="{e}/index.html" lang="{LANGUAGES[e].replace("_", "-")}">{TEXT[e]["name"]}'
                      f" · {TEXT[e]['title']}</a></li>" for e in names)
    refresh = f'<meta http-equiv="refresh" content="0; url={names[0]}/index.html">' if len(names) == 1 else ""
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">{refresh}<title>{TEXT["en"]["title"]}</title>'
            f'</head>\n<body><h1>{TEXT["en"]["title"]}</h1>\n<ul>\n{links}\n</ul></body></html>\n')


def build(out=ROOT / "build" / "site", sources=None, root=ROOT):
    """Build the site into ``out`` from ``sources`` (``{edition: notebooks folder}``, by default
    the editions that exist); the Sphinx sources and builds go to ``<out>-src``, mermaid.js to
    ``build/cache``. Returns
    ``{edition: [page names]}``."""
    out, work = Path(out), Path(f"{out}-src")
    sources = sources or editions(root)
    unknown = set(sources) - set(LANGUAGES)
    if unknown:
        raise SiteError(f"no site language for edition(s) {sorted(unknown)}: known are {sorted(LANGUAGES)}")
    readme = (Path(root) / "README.md").read_text(encoding="utf-8")
    english = [path.stem for path in Path(sources.get("en", editions(root)["en"])).glob("*.ipynb")]
    pages = {e: stage(e, folder, work / "src" / e, readme, english if e != "en" else ()) for e, folder in sources.items()}
    static = {"mermaid": mermaid_assets(Path(root) / "build" / "cache"), "css": work / "static", "templates": work / "templates"}
    _write(static["css"] / "course.css", CSS)
    for name, template in TEMPLATES.items():
        _write(static["templates"] / name, template)
    names = sorted(sources, key=list(LANGUAGES).index)
    jobs = {}
    for e in names:
        other = next((o for o in names if o != e), None)
        jobs[e] = (work / "src" / e, work / "out" / e, sphinx_config(e, other, pages.get(other, []), static))
    failed = _run_editions(jobs)
    if failed:
        raise SiteError(f"Sphinx failed for the {', '.join(failed)} edition(s): see its messages above")
    shutil.rmtree(out, ignore_errors=True)
    for e in names:
        shutil.copytree(work / "out" / e / "html", out / e, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))
    _write(out / "index.html", _chooser(names))
    return pages


def parse_editions(specs, root=ROOT):
    """The editions to build: those in the checkout, with ``EDITION=FOLDER`` specs put in their place."""
    sources = editions(root)
    for spec in specs:
        edition, sep, folder = spec.partition("=")
        if not sep or edition not in LANGUAGES or not Path(folder).is_dir():
            raise SiteError(f"--edition {spec!r}: give EDITION=FOLDER, with EDITION one of {sorted(LANGUAGES)} "
                            "and FOLDER a folder of notebooks")
        sources[edition] = Path(folder)
    return sources


def main(out=None, specs=()):
    """``python -m nethelpers site``: build the site and say where it is."""
    out = Path(out) if out else ROOT / "build" / "site"
    try:
        pages = build(out, parse_editions(specs))
    except SiteError as e:
        raise SystemExit(str(e))
    for edition, names in pages.items():
        print(f"{edition}: {len(names)} pages in {out / edition}")
    print(f"read it served (its diagrams load as modules): python3 -m http.server -b 127.0.0.1 -d {out} 8000, "
          "then http://127.0.0.1:8000/")
    return 0


if __name__ == "__main__":  # one edition's Sphinx build, started by _run_editions
    sys.exit(_sphinx(*json.loads(sys.argv[1])))
