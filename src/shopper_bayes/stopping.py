"""A stop (SIGTERM, Ctrl-C) that Python swallows is sent again.

A signal's handler runs between two steps of whatever Python code runs at that moment. When that code is a
finalizer, a weak-reference callback or a fork hook, Python prints the handler's exception ("Exception ignored
in ...") and goes on: the stop is lost and the user reads a traceback. :func:`resend_swallowed_stops` makes such
a stop silent and sends the signal again a moment later, when ordinary code runs.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable


def resend_swallowed_stops(signalled: list[int]) -> Callable[[], None]:
    """From now on in this process, an exception Python swallows while ``signalled`` (the signals the process's
    handlers noted, newest last) is not empty, and which a stop raises (``SystemExit``, ``KeyboardInterrupt``), is
    passed over quietly and the newest signal sent again after 10 ms; anything else goes to the previous hook.
    Returns the function that ends this: the previous hook back, a signal not yet sent again cancelled."""
    previous = sys.unraisablehook
    pending: list[threading.Timer] = []

    def hook(unraisable) -> None:
        if signalled and isinstance(unraisable.exc_value, (SystemExit, KeyboardInterrupt)):
            pending.append(threading.Timer(0.01, os.kill, (os.getpid(), signalled[-1])))
            pending[-1].start()
            return
        previous(unraisable)

    def end() -> None:
        sys.unraisablehook = previous
        for timer in pending:
            timer.cancel()

    sys.unraisablehook = hook
    return end
