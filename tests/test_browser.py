"""A real browser: JupyterLab in headless Chromium runs the container-to-container notebook.

The server is started on 127.0.0.1 with a token, on a copy of the notebook (JupyterLab saves
outputs back into the file it runs), with HOME and Jupyter's directories of its own. Chromium is
Debian's, driven by Playwright; nothing is downloaded. A screenshot of the finished notebook is
kept in ``build/screenshots/``: the path figure, the Mermaid ladder and the packet explorer.
"""

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "04-container-to-container.ipynb"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOTS = ROOT / "build" / "screenshots"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("NETHELPERS_ROOTLESS_RUN")), reason="run once, by the outer suite"),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (./course test installs it)"),
]



@contextlib.contextmanager
def _serving(argv, ready_url, what, seconds, **popen):
    """A local server started from ``argv``, once ``ready_url`` answers 200; stopped afterwards."""
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)
    try:
        deadline = time.monotonic() + seconds
        while _status(ready_url) != 200:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, f"{what} did not start in {seconds} s"
            time.sleep(0.2)
        yield
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:  # not listening yet
        return None


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on a copy of the course; yields (base url, token)."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "labs", course / "labs")
    (course / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, course / "notebooks" / NOTEBOOK)
    token, port = secrets.token_hex(16), _free_port()
    env = dict(os.environ, HOME=str(tmp_path / "home"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               PYTHONPATH=str(ROOT))
    # Render every cell (JupyterLab 4 renders only those in view), and no news toast.
    tracker = tmp_path / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    news = tmp_path / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    argv = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={course / 'notebooks'}", *(["--allow-root"] if os.geteuid() == 0 else [])]
    base = f"http://127.0.0.1:{port}"
    with _serving(argv, f"{base}/api/status?token={token}", "JupyterLab", 60, env=env, cwd=course):
        yield base, token


def test_jupyterlab_answers_with_the_token_and_refuses_without(jupyterlab):
    base, token = jupyterlab
    assert _status(f"{base}/api/contents?token={token}") == 200
    assert _status(f"{base}/api/contents") == 403


def test_the_notebook_runs_in_chromium_with_figures_ladder_and_widget(jupyterlab):
    sync_api = pytest.importorskip("playwright.sync_api")
    base, token = jupyterlab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            # The execution indicator says idle before a kernel exists: wait for the kernel's name too.
            page.wait_for_selector(".jp-Toolbar-kernelName:has-text('Python 3')", timeout=60_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            deadline = time.monotonic() + 180
            while True:
                # A folded check cell (source_hidden) shows no prompt: count the cells a reader sees.
                prompts = [p.strip() for p in page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]
                prompts = [p for p in prompts if p]
                numbered = [p for p in prompts if p.startswith("[") and p.rstrip(":")[1:-1].isdigit()]
                if prompts and len(numbered) == len(prompts):
                    break
                assert time.monotonic() < deadline, f"cells still running after 180 s: {prompts}"
                time.sleep(0.5)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
            assert page.locator(".jp-RenderedText:has-text('Traceback')").count() == 0
            images = page.locator(".jp-OutputArea-output.jp-RenderedImage img")
            assert images.count() >= 2  # the topology with the path, and the ladder diagram
            for image in images.all():
                image.scroll_into_view_if_needed()
                assert image.evaluate("img => img.complete && img.naturalWidth") > 300
            mermaid = page.locator(".jp-RenderedMermaid img, .jp-RenderedMermaid svg")
            assert mermaid.count() >= 1, "the Mermaid ladder did not render: " + " | ".join(
                h[:600] for h in page.locator(".jp-OutputArea-output.jp-RenderedMarkdown").evaluate_all(
                    "els => els.map(e => e.innerHTML)"))
            widget = page.locator(".jp-OutputArea-output .jupyter-widgets")
            assert widget.count() >= 1, "the packet explorer did not render"
            images.first.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "04-topology.png"))
            mermaid.first.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "04-mermaid.png"))
            widget.first.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "04-explorer.png"))
        finally:
            browser.close()


def test_the_readme_lab_command_starts_jupyterlab_on_the_notebooks(tmp_path):
    """`./course lab` (the README's first command) sets up, then serves notebooks/ with a token."""
    token, port = secrets.token_hex(16), _free_port()
    args = [f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", "--no-browser"]
    args += ["--allow-root"] if os.geteuid() == 0 else []
    env = dict(os.environ, HOME=str(tmp_path), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"))
    if sys.prefix != sys.base_prefix:  # the suite runs from the venv ./course made: use that one
        env["NETHELPERS_VENV"] = sys.prefix
    lab = subprocess.Popen([str(ROOT / "course"), "lab", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while _status(f"{base}/api/status?token={token}") != 200:
            assert lab.poll() is None, lab.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "./course lab did not serve JupyterLab in 120 s"
            time.sleep(0.3)
        with urllib.request.urlopen(f"{base}/api/contents?token={token}", timeout=10) as reply:
            listed = {item["name"] for item in json.load(reply)["content"]}
        assert NOTEBOOK in listed and "00-setup.ipynb" in listed  # rooted at notebooks/
        assert _status(f"{base}/api/contents") == 403
    finally:
        os.killpg(lab.pid, 15)
        lab.wait(20)


@pytest.fixture
def site_server(course_site):
    """The built course website served by http.server on 127.0.0.1; yields its base url."""
    out, _ = course_site
    port = _free_port()
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(out), str(port)]
    base = f"http://127.0.0.1:{port}"
    with _serving(argv, f"{base}/index.html", "http.server", 30):
        yield base


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_a_site_page_shows_its_figures_and_mermaid_ladder_offline(site_server, edition):
    """A page of each language, read with no network but the site's: its matplotlib figures load,
    and the printed Mermaid ladder becomes an SVG drawn by the site's own copy of mermaid.js."""
    sync_api = pytest.importorskip("playwright.sync_api")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    elsewhere = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(site_server)
                       else (elsewhere.append(route.request.url), route.abort()))
            page.goto(f"{site_server}/{edition}/{NOTEBOOK.replace('.ipynb', '.html')}")
            figures = page.locator(".cell_output img")
            assert figures.count() >= 2  # the topology with the path, and the ladder diagram
            for figure in figures.all():
                figure.scroll_into_view_if_needed()
                figure.wait_for(state="visible")
                page.wait_for_function("img => img.complete", arg=figure.element_handle())
                assert figure.evaluate("img => img.naturalWidth") > 300
            ladder = page.locator("pre.mermaid svg")
            ladder.first.wait_for(state="attached", timeout=30_000)
            ladder.first.scroll_into_view_if_needed()
            assert ladder.first.locator("text").count() > 10  # participants and messages drawn
            page.screenshot(path=str(SCREENSHOTS / f"site-{edition}-mermaid.png"))
            figures.first.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / f"site-{edition}-figure.png"))
            other = "zh" if edition == "en" else "en"
            assert page.locator(".course-bar a.course-lang").get_attribute("href").startswith(f"../{other}/")
        finally:
            browser.close()
    assert elsewhere == [], f"the page asked for more than the site: {elsewhere}"
