"""Predict, then observe: checked exercises for the notebooks.

A notebook asks the learner to write a prediction into a variable, runs the experiment, then
calls :func:`check` with the prediction and what the kernel or the capture showed. The
notebooks ship with the solution filled in, so that their tests run the check::

    prediction = {"c2:eth0", "node1:docker0"}        # where will the echo request be seen?
    observed = {p.point for p in capture if "echo-request" in p.summary()}
    check("echo request seen at", prediction, observed)
"""

from IPython.display import Markdown, display


class PredictionError(AssertionError):
    """The prediction and the observation differ; the message says how."""


def _shown(value):
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(repr(v) for v in sorted(value, key=str)) + "}"
    return repr(value)


def check(question, prediction, observed, explanation=""):
    """Compare a prediction with what was observed; say so, and raise if they differ.

    Sets are compared as sets and the difference is named: what was predicted but not seen,
    and what was seen but not predicted.
    """
    if prediction == observed:
        display(Markdown(f"**Correct** ({question}): {_shown(observed)}. {explanation}".rstrip()))
        return None
    if isinstance(prediction, (set, frozenset)) and isinstance(observed, (set, frozenset)):
        missing, extra = prediction - observed, observed - prediction
        detail = []
        if missing:
            detail.append(f"predicted but not observed: {_shown(missing)}")
        if extra:
            detail.append(f"observed but not predicted: {_shown(extra)}")
        message = "; ".join(detail)
    else:
        message = f"predicted {_shown(prediction)}, observed {_shown(observed)}"
    raise PredictionError(f"{question}: {message}. Look at the evidence above, change your prediction and run again.")
