"""Predict, then observe: the exercises of the notebooks.

A notebook asks the learner to write a prediction into a variable, runs the experiment, then
calls :func:`check` with the prediction and what the kernel or the capture showed. The
notebooks ship with ``prediction = None`` and a comment that shows the form of an answer::

    prediction = None   # a set of capture points, like {"c9:eth0"}
    ...
    observed = {p.point for p in capture if "echo-request" in p.summary()}
    check("echo request seen at", prediction, observed, hint="Which ports does a bridge flood to?")

The answers live apart from the notebooks, in a key (``tests/answers.json``: question ->
answer, each a Python literal). Under test the environment variable ``NETHELPERS_ANSWERS``
names that key: :func:`check` compares the key's answer with what was observed, raises
:class:`PredictionError` if they differ, and shows the learner's prompt, so that a notebook's
saved outputs of a notebook that ships ``prediction = None`` hold neither an answer nor a verdict.
"""

import ast
import json
import os

from IPython.display import Markdown, display

from .i18n import tr

ANSWERS = "NETHELPERS_ANSWERS"
PROMPT = "Write your prediction in the cell above, run it, then run this cell."


class PredictionError(AssertionError):
    """Under test, the key's answer and the observation differ (or the key has no answer)."""


def _shown(value):
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(repr(v) for v in sorted(value, key=str)) + "}"
    return repr(value)


def load_key(path):
    """Read a key file: a JSON object of question -> answer written as a Python literal.

    >>> load_key("tests/answers.json")["bind attempts that succeed"]
    {'A', 'C'}
    """
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    return {question: ast.literal_eval(text) for question, text in raw.items()}


def _difference(prediction, observed):
    if isinstance(prediction, (set, frozenset)) and isinstance(observed, (set, frozenset)):
        detail = []
        if prediction - observed:
            detail.append(tr("you predicted {values}, which did not happen", values=_shown(prediction - observed)))
        if observed - prediction:
            detail.append(tr("{values} happened, which you did not predict", values=_shown(observed - prediction)))
        return tr("; ").join(detail)
    return tr("you predicted {prediction}; what happened: {observed}", prediction=_shown(prediction),
              observed=_shown(observed))


def check(question, prediction, observed, explanation="", hint=""):
    """Compare a prediction with what was observed, and tell the learner.

    Args:
        question: the question, as the key names it.
        prediction: the learner's answer; None until they write one.
        observed: what the lab showed.
        explanation: shown with "Correct".
        hint: shown with "Not yet".

    Returns None, so that a cell ending with it shows only the message. A learner never gets
    an exception from here. Under test (``NETHELPERS_ANSWERS`` set) the key's answer is checked
    first, and :class:`PredictionError` says how it differs from the observation; then the cell
    shows what a learner with this notebook sees (the prompt, for ``prediction = None``), so the
    saved outputs are the same with and without the key.

    >>> check("2 + 2", None, 4)        # shows the prompt
    """
    key_file = os.environ.get(ANSWERS)
    if key_file:
        key = load_key(key_file)
        if question not in key:
            raise PredictionError(f"{question!r}: no answer in {key_file}; add one")
        if key[question] != observed:
            raise PredictionError(
                f"{question!r}: the answer in {key_file} is {_shown(key[question])}, observed {_shown(observed)}"
            )
    if prediction is None:
        display(Markdown(tr(PROMPT)))
        return None
    if prediction == observed:
        correct = tr("**Correct** ({question}): {observed}.", question=question, observed=_shown(observed))
        display(Markdown(f"{correct} {explanation}".rstrip()))
        return None
    text = tr("**Not yet** ({question}): {difference}.", question=question, difference=_difference(prediction, observed))
    if hint:
        text += tr(" Hint: {hint}", hint=hint)
    display(Markdown(text + tr(" Change your prediction, run its cell again, then this one.")))
    return None
