"""How a command ends when it does not succeed: exit code, one line on stderr, JSON.

Library errors (:class:`signer.FirmtufError`) exit with their documented code and one
line on stderr, never a traceback. With ``--json`` the same error is also printed on
stdout as ``{"error": {"code": N, "type": "KeyProblemError", "message": "..."}}`` so a
script reading stdout always gets JSON. Ctrl-C exits 130 (128 + SIGINT) and a closed
stdout pipe (``firmtuf key list | head -1``) exits 141 (128 + SIGPIPE) without a word,
as the shell reports for programs killed by those signals.
"""

from __future__ import annotations

import json
import os
import sys

import click

from signer import FirmtufError, KeyProblemError

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

_JSON_KEY = "firmtuf.json"
_WRITTEN_KEY = "firmtuf.json_written"


class FirmtufClickError(click.ClickException):
    """A FirmtufError as click shows it: one line on stderr, the documented exit code."""

    def __init__(self, error: FirmtufError) -> None:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        super().__init__(message)
        self.error = error


_ERROR_CLASSES: dict[int, type[FirmtufClickError]] = {}


def click_error(error: FirmtufError) -> FirmtufClickError:
    """The click exception for ``error``, of a subclass carrying its exit code."""
    code = error.exit_code
    if code not in _ERROR_CLASSES:
        _ERROR_CLASSES[code] = type(
            f"FirmtufClickError{code}", (FirmtufClickError,), {"exit_code": code}
        )
    return _ERROR_CLASSES[code](error)


def remember_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """``--json`` callback: errors of this command are printed as JSON too."""
    del param
    if value:
        ctx.meta[_JSON_KEY] = True
    return value


def json_written() -> None:
    """The command printed its JSON result: a later error (e.g. `status` unhealthy) only
    sets the exit code, so stdout stays one JSON document."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_WRITTEN_KEY] = True


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the final flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass


def _echo_json_error(ctx: click.Context, error: click.ClickException, kind: str) -> None:
    if not ctx.meta.get(_JSON_KEY) or ctx.meta.get(_WRITTEN_KEY):
        return
    data = {"error": {"code": error.exit_code, "type": kind, "message": error.format_message()}}
    try:
        click.echo(json.dumps(data, sort_keys=True))
    except BrokenPipeError:
        _silence_stdout()


def command_outcome(ctx: click.Context, error: BaseException) -> BaseException:
    """The exception that ends the command for ``error`` (``error`` itself for bugs)."""
    outcome: BaseException
    if isinstance(error, BrokenPipeError):
        _silence_stdout()
        return click.exceptions.Exit(EXIT_BROKEN_PIPE)
    if isinstance(error, KeyboardInterrupt) or (
        isinstance(error, click.Abort) and isinstance(error.__context__, KeyboardInterrupt)
    ):
        click.echo("Interrupted: nothing more was written.", err=True)
        return click.exceptions.Exit(EXIT_INTERRUPTED)
    if isinstance(error, click.Abort) and isinstance(error.__context__, EOFError):
        # A prompt for a password or PIN, with standard input closed (CI, cron).
        error = KeyProblemError(
            "a password or PIN is needed and standard input is closed: "
            "use --password-env NAME / --pin-env NAME"
        )
    if isinstance(error, FirmtufError):
        outcome = click_error(error)
        _echo_json_error(ctx, outcome, type(error).__name__)
        return outcome
    if isinstance(error, OSError):
        # Disk full, permissions: not a bug, so no traceback; exit 1 (unexpected).
        name = f" {error.filename}" if error.filename else ""
        outcome = click.ClickException(f"I/O error{name}: {error.strerror or error}")
        _echo_json_error(ctx, outcome, "OSError")
        return outcome
    if isinstance(error, click.ClickException):
        kind = "UsageError" if isinstance(error, click.UsageError) else type(error).__name__
        _echo_json_error(ctx, error, kind)
    return error
