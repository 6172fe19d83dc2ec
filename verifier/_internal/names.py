"""The target-name rule (ADR 0001, ADR 0012): one function for the signer and the device.

A leaf module (it imports only the errors): the metadata model, the support and SBOM
links, the bundle reader and the updater all apply it without importing one another.
"""

from __future__ import annotations

from verifier._errors import UnsafeTargetNameError

# Invisible or reordering characters: a name could pose as another on a screen or in a
# log (C0/C1 controls and DEL, format characters such as the bidi embeddings, overrides
# and isolates U+202A..U+202E, U+2066..U+2069, LRM/RLM/ALM, zero-width characters,
# surrogates, line and paragraph separators).
_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
MAX_TARGET_NAME_BYTES = 1024


def check_target_name(name: str) -> None:
    """The one target-name rule of firmtuf, for the signer and the device (ADR 0001).

    A name is a relative POSIX path of at most 1024 UTF-8 bytes: no empty, ``.`` or
    ``..`` segment, no leading ``/``, no backslash, no control, format (bidi), surrogate
    or line/paragraph-separator characters. (The signer also refuses ``?``, ``#`` and
    ``%``, for TUF clients that put a name in a URL unencoded.)

    Raises:
        UnsafeTargetNameError: the name breaks the rule (the message says how).
    """
    if not isinstance(name, str) or not name:
        raise UnsafeTargetNameError("unsafe target name: empty")
    if name.isascii():
        if any(c < " " or c == "\x7f" for c in name):
            raise UnsafeTargetNameError(
                f"unsafe target name {name!r}: it contains a control character"
            )
    else:
        import unicodedata  # only for non-ASCII names: it costs import time on devices

        for c in name:
            if unicodedata.category(c) in _HIDDEN:
                raise UnsafeTargetNameError(
                    f"unsafe target name {name!r}: it contains U+{ord(c):04X}, a control, format or"
                    " separator character that hides or reorders text"
                )
    if len(name.encode()) > MAX_TARGET_NAME_BYTES:
        raise UnsafeTargetNameError(
            f"unsafe target name: longer than {MAX_TARGET_NAME_BYTES} bytes"
        )
    if name.startswith("/"):
        raise UnsafeTargetNameError(f"unsafe target name {name!r}: an absolute path")
    if "\\" in name:
        raise UnsafeTargetNameError(f"unsafe target name {name!r}: it contains a backslash")
    for segment in name.split("/"):
        if segment == "":
            raise UnsafeTargetNameError(
                f"unsafe target name {name!r}: it has an empty path segment"
            )
        if segment in (".", ".."):
            raise UnsafeTargetNameError(
                f"unsafe target name {name!r}: it has a {segment!r} segment"
            )
