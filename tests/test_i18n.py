"""The language nethelpers speaks, its translations, and Chinese drawn without missing glyphs."""

import ast
import io
import re
import string
import warnings
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from nethelpers import exercise, i18n, journey, zh_cn
from nethelpers.i18n import LANG_ENV, language, tr

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nethelpers"


def _texts_given_to_tr():
    """Every text the package passes to ``tr``: string literals, or module constants named there."""
    found = {}
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                     for target in node.targets if isinstance(target, ast.Name)
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr" and node.args:
                arg = node.args[0]
                text = arg.value if isinstance(arg, ast.Constant) else constants.get(getattr(arg, "id", None))
                assert isinstance(text, str), f"{path.name}:{node.lineno}: tr() of something not a text"
                found[text] = f"{path.name}:{node.lineno}"
    return found


def _names(text):
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name)


def test_every_text_the_code_shows_has_a_chinese_translation_with_the_same_names():
    given = _texts_given_to_tr()
    assert len(given) > 40
    missing = [f"{where}: {text!r}" for text, where in given.items() if text not in zh_cn.MESSAGES]
    assert not missing, "no zh_CN translation (shown in English) in nethelpers/zh_cn.py:\n" + "\n".join(missing)
    for text, where in given.items():
        assert _names(zh_cn.MESSAGES[text]) == _names(text), f"{where}: {{names}} differ in the translation of {text!r}"


def test_every_translation_is_of_a_text_the_code_shows():
    assert sorted(set(zh_cn.MESSAGES) - set(_texts_given_to_tr())) == []


def test_a_text_without_translation_falls_back_to_english():
    assert tr("a text no catalog has, {n}", lang="zh_CN", n=3) == "a text no catalog has, 3"
    assert tr("{n} packets at {m} points", lang="en", n=2, m=1) == "2 packets at 1 points"
    assert i18n.column("mtu", lang="zh_CN") == "mtu"


def test_journey_columns_have_chinese_headers():
    assert [c for c in journey.COLUMNS if c != "ms" and c not in zh_cn.COLUMNS] == []


@pytest.mark.parametrize("value, lang", [("zh_CN", "zh_CN"), ("zh-CN", "zh_CN"), ("zh", "zh_CN"),
                                          ("zh_CN.UTF-8", "zh_CN"), ("en", "en"), ("fr", "en")])
def test_the_environment_chooses_the_language(monkeypatch, tmp_path, value, lang):
    monkeypatch.setenv(LANG_ENV, value)
    assert language(cwd=tmp_path) == lang


def test_the_edition_folder_chooses_the_language(monkeypatch, tmp_path):
    monkeypatch.delenv(LANG_ENV, raising=False)
    (tmp_path / "locale" / "zh_CN").mkdir(parents=True)
    (tmp_path / "zh").mkdir()
    assert language(cwd=tmp_path / "zh") == "zh_CN"
    assert language(cwd=tmp_path) == "en"
    assert language(cwd=ROOT / "notebooks") == "en"
    (tmp_path / "other" / "zh").mkdir(parents=True)  # a folder named zh elsewhere is not an edition
    assert language(cwd=tmp_path / "other" / "zh") == "en"
    monkeypatch.setenv(LANG_ENV, "en")
    assert language(cwd=tmp_path / "zh") == "en"


@pytest.fixture
def shown(monkeypatch):
    seen = []
    monkeypatch.setattr(exercise, "display", lambda obj: seen.append(obj.data))
    monkeypatch.delenv(exercise.ANSWERS, raising=False)
    monkeypatch.setenv(LANG_ENV, "zh_CN")
    return seen


def test_exercise_messages_in_chinese(shown):
    exercise.check("q", None, {"a"})
    exercise.check("points", {"a", "b"}, {"a", "b"}, explanation="Both.")
    exercise.check("points", {"a", "c"}, {"a", "b"}, hint="Floods.")
    assert shown[0] == zh_cn.MESSAGES[exercise.PROMPT]
    assert shown[1] == "**正确**（points）：{'a', 'b'}。 Both."
    assert shown[2].startswith("**还不对**（points）：你预测了 {'c'}，但它没有发生；{'b'} 发生了，但你没有预测到。")
    assert " 提示：Floods." in shown[2]


def _draw_without_missing_glyphs(fig):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing from")
        fig.savefig(io.BytesIO(), format="png")


def test_every_chinese_text_draws_without_missing_glyphs(monkeypatch):
    monkeypatch.setenv(LANG_ENV, "zh_CN")
    assert i18n.cjk_font(), "no CJK font: install fonts-wqy-microhei (./course does, as root)"
    i18n.use_fonts()
    fig = Figure(figsize=(12, 40))
    texts = [*zh_cn.MESSAGES.values(), *zh_cn.COLUMNS.values()]
    for n, text in enumerate(texts):
        fig.text(0.01, 1 - n / len(texts), text, fontsize=6)
        fig.text(0.5, 1 - n / len(texts), text, fontsize=6, family=i18n.families("DejaVu Sans Mono"))
    _draw_without_missing_glyphs(fig)


def test_without_the_cjk_fallback_chinese_would_miss_glyphs():
    """The check above can fail: Chinese in matplotlib's default font alone warns."""
    fig = Figure()
    fig.text(0.1, 0.5, "网桥", family="DejaVu Sans")
    with pytest.raises(UserWarning, match=re.escape("missing from font")):
        _draw_without_missing_glyphs(fig)


def test_a_chinese_ladder_and_topology_of_a_real_capture(monkeypatch):
    from nethelpers import Lab
    from nethelpers.draw import topology

    monkeypatch.setenv(LANG_ENV, "zh_CN")
    with Lab(ROOT / "labs" / "one-node.yml") as lab:
        cap = lab.capture(["c1:eth0", "c2:eth0"], filter="arp or icmp")
        try:
            assert lab.exec("c1", "ping -c 1 -W 2 172.17.0.3").ok
        finally:
            capture = cap.stop()
        ladder = capture.ladder()
        drawn = topology(lab, highlight=capture)
    texts = [t.get_text() for ax in ladder.axes for t in ax.texts] + [ladder.axes[0].get_title()]
    assert any("个数据包" in t for t in texts) and ladder.axes[0].get_ylabel().startswith("自第一个数据包")
    assert any("在此处捕获到数据包" in t.get_text() for ax in drawn.axes for t in ax.texts)
    _draw_without_missing_glyphs(ladder)
    _draw_without_missing_glyphs(drawn)


def test_jupyterlab_speaks_chinese_with_the_course_settings():
    """`./course lab zh` passes jupyterlab/zh_CN as JupyterLab's app settings dir; JupyterLab's own
    reader of that dir finds the locale there, and the zh-CN language pack is installed."""
    import importlib.util

    from jupyterlab_server.settings_utils import _get_overrides

    overrides, error = _get_overrides(str(ROOT / "jupyterlab" / "zh_CN"))
    assert not error and overrides["@jupyterlab/translation-extension:plugin"]["locale"] == "zh_CN"
    assert '--LabApp.app_settings_dir="$PWD/jupyterlab/zh_CN"' in (ROOT / "course").read_text()
    assert importlib.util.find_spec("jupyterlab_language_pack_zh_CN"), "pip install jupyterlab-language-pack-zh-cn"
