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
