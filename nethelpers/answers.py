"""The teacher's view of the exercises: who predicted what, right or wrong, read from notebooks.

``python -m nethelpers answers [--key tests/answers.json] NOTEBOOK...`` prints one row per
(notebook, question). Notebooks are read, never run: each ``check(question, prediction, ...)``
call is found with :mod:`ast`, and the prediction is the value last assigned, above that call, to
the variable passed to it, read with :func:`ast.literal_eval`.
"""

import ast
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .exercise import load_key

DEFAULT_KEY = Path(__file__).resolve().parent.parent / "tests" / "answers.json"
UNANSWERED = object()


@dataclass
class Row:
    """One exercise in one notebook: the learner's prediction (as written) and its verdict."""

    notebook: str
    question: str
    prediction: str
    result: str


def _code(cell):
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    # IPython magics and shell escapes are not Python: blank them, keep line numbers.
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _is_check(node):
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "check") or (
        isinstance(func, ast.Attribute) and func.attr == "check"
    )


def _argument(call, position, name):
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == name), None)


def _events(tree):
    """Assignments and check calls of a cell, in the order they appear."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    found.append((node.lineno, node.col_offset, "assign", target.id, node.value))
        elif isinstance(node, ast.Call) and _is_check(node):
            found.append((node.lineno, node.col_offset, "check", None, node))
    return sorted(found, key=lambda event: event[:2])


def exercises(path):
    """(question, prediction source, prediction value or UNANSWERED / a ValueError) per check call."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    assigned = {}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        code = _code(cell)
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for _, _, kind, name, node in _events(tree):
            if kind == "assign":
                assigned[name] = (ast.get_source_segment(code, node) or "", node)
                continue
            question_node = _argument(node, 0, "question")
            prediction_node = _argument(node, 1, "prediction")
            try:
                question = ast.literal_eval(question_node)
            except (ValueError, TypeError, SyntaxError):
                continue
            if isinstance(prediction_node, ast.Name):
                source, value_node = assigned.get(prediction_node.id, ("", None))
            else:
                source, value_node = ast.get_source_segment(code, prediction_node) or "", prediction_node
            if value_node is None:
                yield question, "", UNANSWERED
                continue
            try:
                value = ast.literal_eval(value_node)
            except (ValueError, TypeError, SyntaxError) as e:
                yield question, source, ValueError(str(e))
                continue
            yield question, source, UNANSWERED if value is None else value


def table(notebooks, key):
    """One Row per (notebook, question), in notebook order."""
    rows = []
    for path in notebooks:
        for question, source, value in exercises(path):
            if value is UNANSWERED:
                result = "unanswered"
            elif isinstance(value, ValueError):
                result = "unreadable (not a literal)"
            elif question not in key:
                result = "no key"
            else:
                result = "right" if value == key[question] else "wrong"
            shown = "" if value is UNANSWERED else " ".join(source.split())
            rows.append(Row(str(path), question, shown, result))
    return rows


def render(rows, width=60):
    """A plain-text table with a header, one line per row; long predictions are cut."""
    header = Row("notebook", "question", "prediction", "result")
    def short(text):
        return text if len(text) <= width else text[: width - 3] + "..."

    cut = [Row(r.notebook, r.question, short(r.prediction), r.result) for r in rows]
    columns = ("notebook", "question", "prediction", "result")
    widths = {c: max(len(getattr(r, c)) for r in [header, *cut]) for c in columns}
    lines = ["  ".join(getattr(r, c).ljust(widths[c]) for c in columns).rstrip() for r in [header, *cut]]
    lines.insert(1, "  ".join("-" * widths[c] for c in columns))
    return "\n".join(lines)


def main(notebooks, key_path=None):
    """Print the table for these notebooks; 2 if the key or a notebook cannot be read."""
    try:
        key = load_key(key_path or DEFAULT_KEY)
        rows = table(notebooks, key)
    except (OSError, ValueError, SyntaxError) as e:
        print(f"answers: {e}", file=sys.stderr)
        return 2
    print(render(rows))
    right = sum(r.result == "right" for r in rows)
    print(f"\n{right} of {len(rows)} right")
    return 0
