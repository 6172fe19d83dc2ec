"""The verifier's log lines, on the ``verifier`` logger, at the level they deserve.

- debug: routine steps (what was fetched, kept, written);
- info: things an operator may want to see once (a resumed download, a migration);
- warning: fallbacks and refusals (a stored file not usable, a partial download
  restarted, a newer firmware refused);
- never error: normal operation raises typed errors instead; what the agent does with
  them is its own decision.

``logging`` costs import time a device pays on every start, so it is never imported for
debug or info lines: if nothing in the process imported it, nothing configured a handler
that could show them. Warnings import it (rare; Python's last-resort handler prints
them when nothing is configured).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from logging import Logger

NAME = "verifier"
_logger: Logger | None = None


def _get() -> Logger:
    global _logger  # one logger, looked up once
    if _logger is None:
        import logging

        _logger = logging.getLogger(NAME)
    return _logger


def debug(msg: str, *args: object) -> None:
    """A routine step."""
    if _logger is not None or "logging" in sys.modules:
        _get().debug(msg, *args)


def info(msg: str, *args: object) -> None:
    """Worth seeing once: a resume, a restart that was asked for, a migration."""
    if _logger is not None or "logging" in sys.modules:
        _get().info(msg, *args)


def warning(msg: str, *args: object) -> None:
    """A fallback or a refusal."""
    _get().warning(msg, *args)
