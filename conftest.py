"""Under test, the exercises of the notebooks are checked against the answer key.

Set in pytest_configure, before nbval starts a kernel, so that every kernel inherits it
whatever paths pytest was given. A learner's kernel never has it: see nethelpers/exercise.py.
"""

import os
from pathlib import Path

KEY = Path(__file__).resolve().parent / "tests" / "answers.json"


def pytest_configure(config):
    if KEY.exists():  # a copy without the key (a learner's image, say) runs the exercises as a learner would
        os.environ.setdefault("NETHELPERS_ANSWERS", str(KEY))
