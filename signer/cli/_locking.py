"""The repository lock on the command line: which commands take it, and how long they wait.

Every command that names a working repository declares how it uses it with
:func:`locks_repo` (a test checks that none is left out): ``"exclusive"`` for commands
that change it, ``"shared"`` for commands that only read it. See :mod:`signer._lock`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from signer import WAIT_ENV, repository_lock

F = TypeVar("F", bound=Callable[..., Any])

LockMode = Literal["exclusive", "shared", "none"]

_WAIT_KEY = "firmtuf.lock_wait"
LOCK_ATTRIBUTE = "firmtuf_lock"
"""Attribute of a command callback naming its lock mode (read by the tests)."""


def locks_repo(mode: LockMode, param: str = "repo") -> Callable[[F], F]:
    """Run the decorated command holding the lock of the repository in argument ``param``.

    ``"none"`` declares a command that names a repository but must not lock it (it
    creates one, or locks inside itself).
    """

    def decorate(f: F) -> F:
        if mode == "none":
            setattr(f, LOCK_ATTRIBUTE, mode)
            return f

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ctx = click.get_current_context(silent=True)
            wait = None if ctx is None else ctx.meta.get(_WAIT_KEY)
            repo = kwargs.get(param)
            if repo is None:
                return f(*args, **kwargs)
            with repository_lock(Path(repo), exclusive=mode == "exclusive", wait=wait):
                return f(*args, **kwargs)

        setattr(wrapper, LOCK_ATTRIBUTE, mode)
        return wrapper  # type: ignore[return-value]

    return decorate


def _remember_wait(ctx: click.Context, param: click.Parameter, value: float | None) -> None:
    del param
    if value is not None:
        ctx.meta[_WAIT_KEY] = value


def lock_wait_option(f: F) -> F:
    """``--lock-wait SECONDS`` on the group (default ``$FIRMTUF_LOCK_WAIT``, else 30)."""
    return click.option(
        "--lock-wait",
        type=click.FloatRange(min=0),
        default=None,
        metavar="SECONDS",
        expose_value=False,
        callback=_remember_wait,
        help=f"How long to wait for another firmtuf command on the same repository "
        f"before exiting 7 (default ${WAIT_ENV}, else 30).",
    )(f)
