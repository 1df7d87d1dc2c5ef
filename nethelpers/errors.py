"""The exceptions nethelpers raises, one per kind of fault a learner can meet."""

import functools
import inspect
import re


class NetHelpersError(Exception):
    """Base of every error this package raises on purpose."""


class TopologyError(NetHelpersError, ValueError):
    """A lab description is invalid; raised before the kernel is touched.

    ``problems`` lists every problem found, each naming the entry and the value. A problem
    longer than MAX_PROBLEM characters (a huge value quoted) is cut in its middle, and the
    message lists at most MAX_LISTED problems, so a message stays readable whatever the input.
    """

    MAX_PROBLEM = 400
    MAX_LISTED = 50

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = [_clip_middle(str(p), self.MAX_PROBLEM) for p in problems]
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            listed = self.problems[: self.MAX_LISTED]
            message = f"{len(self.problems)} problems in the lab description:\n" + "\n".join(
                f"  - {p}" for p in listed
            )
            if len(self.problems) > len(listed):
                message += f"\n  ... and {len(self.problems) - len(listed)} more"
        super().__init__(message)


class UsageError(TopologyError, TypeError):
    """A function of the package was called with an argument of the wrong type, or with a
    keyword it does not take; the message says what it expected.

    It is a TopologyError (a description that cannot be made) and a TypeError (a call that
    is wrong), so either ``except`` catches it.
    """


class ShellSyntaxError(NetHelpersError, ValueError):
    """A command given as a string holds shell syntax (a pipe, a redirection, ``$(...)``...) but no
    shell was asked for: run it with ``shell=True``, or give an argv list."""


def _clip_middle(text, limit):
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    return text[:keep] + " ... " + text[-keep:]


class PrivilegeError(NetHelpersError, PermissionError):
    """This machine lets us build no lab: no root and no unprivileged user namespaces."""


class EngineError(NetHelpersError, RuntimeError):
    """The lab engine failed to do what it was asked; the message says what the kernel said."""


class StartError(EngineError):
    """The lab engine could not start here (it could not build its lab's root, for one): the
    message is the engine's own; ``python -m nethelpers doctor`` says what this machine allows."""


class CommandError(NetHelpersError, RuntimeError):
    """A command run in a lab namespace exited with a non-zero status (when ``check=True``)."""

    def __init__(self, result):
        self.result = result
        detail = (result.stderr or result.stdout).strip()
        super().__init__(
            f"{result.namespace}: `{result.command}` exited with status {result.returncode}"
            + (f": {detail}" if detail else "")
        )


class CaptureError(NetHelpersError, RuntimeError):
    """A capture could not start, or its reader failed; the message says why and what to do."""


def checked_call(function):
    """Decorate a public function so that a call with a missing, extra or unknown argument
    raises a :class:`UsageError` naming it and listing the arguments the function takes."""
    signature = inspect.signature(function)
    params = [p for p in signature.parameters.values() if p.name not in ("self", "cls") and p.kind != p.VAR_KEYWORD]
    owner = function.__qualname__.split(".")[0]
    name = owner if function.__name__ == "__init__" else function.__name__

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            unknown = re.search(r"unexpected keyword argument '(.*)'", str(e))
            problem = f"unknown keyword {unknown.group(1)!r}" if unknown else re.sub(r"^.*?\(\) ", "", str(e))
            takes = ", ".join(p.name for p in params)
            extra = " (and the options its docstring lists)" if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()) else ""
            raise UsageError(f"{name}: {problem}; it takes {takes}{extra}") from None
        return function(*args, **kwargs)

    return wrapper
