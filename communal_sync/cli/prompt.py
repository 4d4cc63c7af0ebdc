"""A yes/no question on the terminal that Ctrl-C always interrupts.

``input()`` (which typer's ``confirm`` uses) can lose a Ctrl-C pressed in the very instant
the question appears: a signal that lands after Python's last check and before the read
begins leaves the read blocked, and the program waits for an answer the person already
refused to give. Here the read waits on the terminal *and* on a wakeup pipe that the
signal itself writes to (``signal.set_wakeup_fd``), so a signal arriving at any moment
ends the wait and raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import io
import os
import select
import signal
import sys

YES = frozenset({"y", "yes"})
NO = frozenset({"n", "no"})


def ask_yes_no(question: str, default: bool = False) -> bool:
    """Ask ``question`` with " [y/N]: " (or " [Y/n]: ") and return the answer.

    An empty answer is ``default``; anything else is asked again. Ctrl-C raises
    ``KeyboardInterrupt`` and the end of input ``EOFError``, as ``input()`` does.
    """
    prompt = f"{question} [{'Y/n' if default else 'y/N'}]: "
    try:
        sys.stdin.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        # Not a file (an answer handed in by a test runner): nothing to wait on.
        _say(prompt)
        answer = _answer(sys.stdin.readline(), default, prompt, retry=False)
        return default if answer is None else answer
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    previous = signal.set_wakeup_fd(wakeup_write)
    try:
        _say(prompt)
        while True:
            ready, _, _ = select.select([sys.stdin, wakeup_read], [], [])
            if wakeup_read in ready:
                os.read(wakeup_read, 512)
                # A signal came: its handler runs before the next line, and Ctrl-C's raises
                # KeyboardInterrupt there. Another signal (a resize) changes nothing.
                continue
            answer = _answer(sys.stdin.readline(), default, prompt, retry=True)
            if answer is not None:
                return answer
    finally:
        signal.set_wakeup_fd(previous)
        os.close(wakeup_read)
        os.close(wakeup_write)


def _answer(line: str, default: bool, prompt: str, *, retry: bool) -> bool | None:
    """What ``line`` answers; asks again (returns None) for anything but yes, no or empty
    while ``retry``; without it such an answer is the default."""
    if not line:
        raise EOFError
    answer = line.strip().lower()
    if answer in YES:
        return True
    if answer in NO:
        return False
    if not answer or not retry:
        return default
    _say("Error: invalid input\n" + prompt)
    return None


def _say(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
