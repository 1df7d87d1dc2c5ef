"""The language nethelpers speaks: English, or the language of the edition a notebook belongs to.

The editions' notebooks run the very code of the English ones (``nethelpers.editions``), so
the language cannot be written in a cell: it comes from where the kernel runs. JupyterLab,
nbval and nbconvert all start a notebook's kernel in the notebook's own folder, so

1. ``NETHELPERS_LANG`` if it is set (``zh_CN``, ``zh``, ``en``...), else
2. the working directory, when it is an edition's folder (``notebooks/zh`` -> ``zh_CN``), else
3. English.

The words of figures, widgets and exercise messages go through :func:`tr`. Each language has
a small reviewed dictionary, English text -> its translation (:mod:`nethelpers.zh_cn`), and a
text with no translation is shown in English (``tests/test_i18n.py`` fails on any such text).
"""

import os
from pathlib import Path

LANG_ENV = "NETHELPERS_LANG"
ENGLISH = "en"
EDITIONS = {"zh": "zh_CN"}  # an edition's folder under notebooks/ -> its language


def _normalise(name):
    """``zh-CN``, ``zh_cn.UTF-8``, ``zh`` -> ``zh_CN``; anything else but an edition's -> English."""
    base = name.split(".")[0].replace("-", "_").lower()
    for lang in EDITIONS.values():
        if base in (lang.lower(), lang.split("_")[0]):
            return lang
    return ENGLISH


def language(cwd=None):
    """The language to speak now: ``NETHELPERS_LANG``, else the edition folder the kernel runs in.

    >>> language()          # in notebooks/, with NETHELPERS_LANG unset
    'en'
    """
    chosen = os.environ.get(LANG_ENV, "").strip()
    if chosen:
        return _normalise(chosen)
    here = Path(cwd) if cwd is not None else Path.cwd()
    lang = EDITIONS.get(here.name)
    if lang and (here.parent / "locale" / lang).is_dir():  # notebooks/zh next to notebooks/locale/zh_CN
        return lang
    return ENGLISH


def _catalog(lang):
    if lang == "zh_CN":
        from .zh_cn import MESSAGES

        return MESSAGES
    return {}


def tr(text, lang=None, **values):
    """``text`` in the current language (English when it has no translation), its ``{names}``
    filled from ``values``.

    >>> tr("{n} packets at {m} points", n=3, m=2)
    '3 packets at 2 points'
    """
    shown = _catalog(lang or language()).get(text, text)
    return shown.format(**values) if values else shown


def column(name, lang=None):
    """A table's column header as shown: translated where the language has a word for it,
    else as it is (``mac``, ``mtu``, ``dev`` are the tools' own names)."""
    lang = lang or language()
    if lang == "zh_CN":
        from .zh_cn import COLUMNS

        return COLUMNS.get(name, name)
    return name


# Fonts with Chinese glyphs, smallest package first: fonts-wqy-microhei (5 MB installed), then Noto CJK.
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Droid Sans Fallback")
_CJK_FILES = ("wqy-microhei", "NotoSansCJK", "wqy-zenhei", "DroidSansFallback")
_found = []


def cjk_font():
    """The family name of an installed font with Chinese glyphs, or None. A font installed after
    matplotlib built its font cache is added to it here."""
    if _found:
        return _found[0]
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    if not names.intersection(CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if any(part in Path(path).name for part in _CJK_FILES):
                font_manager.fontManager.addfont(path)
        names = {f.name for f in font_manager.fontManager.ttflist}
    _found.append(next((name for name in CJK_FONTS if name in names), None))
    return _found[0]


def families(*base):
    """Font families for text that may hold Chinese: ``base``, then a CJK font as matplotlib's
    fallback for the glyphs ``base`` lacks (English text looks the same)."""
    cjk = cjk_font() if language() != ENGLISH else None
    return [*base, cjk] if cjk else list(base)


def use_fonts():
    """Let figures drawn from now on show Chinese: the CJK font as the default family's fallback,
    when nethelpers speaks a language that needs it and such a font is installed."""
    import matplotlib

    cjk = cjk_font() if language() != ENGLISH else None
    if cjk and cjk not in matplotlib.rcParams["font.family"]:
        matplotlib.rcParams["font.family"] = [*matplotlib.rcParams["font.family"], cjk]
