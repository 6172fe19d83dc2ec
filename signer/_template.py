"""The CI repository template (repo_template/): what `firmtuf init --template` writes."""

from __future__ import annotations

from pathlib import Path

from signer._errors import RepositoryLocationError
from signer._fsutil import atomic_write
from signer._template_files import FILES


def check_template_target(directory: Path) -> None:
    """Raise before anything is written if a template file would overwrite a file.

    Raises:
        RepositoryLocationError: one of the template's files already exists.
    """
    for rel in FILES:
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
    for rel, (text, mode) in FILES.items():
        path = directory / rel
        atomic_write(path, text.encode("utf-8"))
        path.chmod(mode)
        written.append(path)
    return written
