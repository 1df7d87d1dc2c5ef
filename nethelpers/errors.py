"""The exceptions nethelpers raises, one per kind of fault a learner can meet."""


class NetHelpersError(Exception):
    """Base of every error this package raises on purpose."""


class TopologyError(NetHelpersError, ValueError):
    """A lab description is invalid; raised before the kernel is touched.

    ``problems`` lists every problem found, each naming the entry and the value.
    """

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems in the lab description:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(message)


class PrivilegeError(NetHelpersError, PermissionError):
    """This machine lets us build no lab: no root and no unprivileged user namespaces."""


class EngineError(NetHelpersError, RuntimeError):
    """The lab engine failed to do what it was asked; the message says what the kernel said."""


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
