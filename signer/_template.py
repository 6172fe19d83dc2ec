"""The CI repository template (repo_template/): what `firmtuf init --template` writes.

repo_template/ is shipped as package data (``signer/repo_template`` links to it in the
source tree; pyproject.toml lists its files) and read with ``importlib.resources``, so the
installed package and the repository hold one copy.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from signer._errors import RepositoryLocationError
from signer._fsutil import atomic_write

EXECUTABLE_SUFFIXES = (".sh",)
"""Template files written executable (the CI scripts); every other file is 0644."""


def _walk(node: Traversable, prefix: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            found.update(_walk(child, f"{rel}/"))
        elif child.name != "__pycache__":
            found[rel] = child.read_bytes()
    return found


def template_files() -> dict[str, tuple[bytes, int]]:
    """The template's files: relative path -> (content, mode)."""
    root = files("signer") / "repo_template"
    return {
        rel: (data, 0o755 if rel.endswith(EXECUTABLE_SUFFIXES) else 0o644)
        for rel, data in _walk(root, "").items()
    }


def check_template_target(directory: Path) -> None:
    """Raise before anything is written if a template file would overwrite a file.

    Raises:
        RepositoryLocationError: one of the template's files already exists.
    """
    for rel in template_files():
        if (directory / rel).exists():
            raise RepositoryLocationError(
                f"{directory / rel} already exists; not overwriting it with the template"
            )


def write_template(directory: Path) -> list[Path]:
    """Write the template's files into ``directory`` (see repo_template/README.md).

    Raises:
        RepositoryLocationError: a template file already exists (nothing is written).
    """
    check_template_target(directory)
    written = []
    for rel, (data, mode) in template_files().items():
        path = directory / rel
        atomic_write(path, data)
        path.chmod(mode)
        written.append(path)
    return written
