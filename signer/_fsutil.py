"""The signing tool's writes, built on the verifier's one durable write.

Every file the signer writes goes through :class:`verifier.StagedFile` (temp file beside
the destination, ``fdatasync``, rename, directory sync), here through :func:`staged_file`
or :func:`atomic_write` / :func:`atomic_copy` / :func:`write_all_or_nothing`. What is the
signer's own: missing parent directories are created, a failure of any step (a
directory sync too) is a :class:`~signer.WriteError` (one line, exit code 1), and a
failed write puts back what was there, so a failed command leaves the repository as it
was. A directory created whole (a new repository, a signing event) goes through
:func:`staged_dir`.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from signer._errors import WriteError
from verifier import StagedFile, StorageError, fsync_dir


def write_error(e: StorageError | OSError, path: Path | None = None) -> WriteError:
    """The signer's error for a failed write of ``path`` (``errno`` and ``strerror`` kept)."""
    if isinstance(e, StorageError):
        err = WriteError(str(e))
    else:
        err = WriteError(f"cannot write {path}: {e.strerror or e}")
    cause = e.__cause__ if isinstance(e, StorageError) else e
    if isinstance(cause, OSError):
        err.errno, err.strerror = cause.errno, cause.strerror
    return err


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    try:
        yield
    except StorageError as e:
        raise write_error(e) from e


def _make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WriteError(f"cannot create {directory}: {e.strerror or e}") from e


def sync_directory(directory: Path) -> None:
    """:func:`verifier.fsync_dir`, its failure a WriteError."""
    with _reported():
        fsync_dir(directory)


@contextlib.contextmanager
def staged_file(dest: Path) -> Iterator[StagedFile]:
    """A :class:`verifier.StagedFile` for ``dest`` (parents created), errors as WriteError.

    Leaving the block without :meth:`~verifier.StagedFile.commit` removes the temp file.
    """
    _make_dir(dest.parent)
    with _reported(), StagedFile(dest) as staged:
        yield staged


def atomic_write(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, never a mix.

    Should the directory sync fail after the rename, the old bytes are put back (or the
    new file removed) before the WriteError is raised.
    """
    if sync_dir:
        write_all_or_nothing([(path, data)])
        return
    with staged_file(path) as staged:
        staged.write(data)
        staged.commit(sync_dir=False)


def atomic_copy(src: Path, dest: Path, *, chunk_size: int = 1 << 20) -> None:
    """Copy ``src`` (an image: too large to keep its old bytes) to ``dest`` through a temp
    file and a rename. Should the directory sync fail, a new ``dest`` is removed again."""
    existed = dest.exists()
    with staged_file(dest) as staged, open(src, "rb") as fin:
        while chunk := fin.read(chunk_size):
            staged.write(chunk)
        staged.commit(sync_dir=False)
    try:
        sync_directory(dest.parent)
    except WriteError:
        if not existed:
            with contextlib.suppress(OSError):
                dest.unlink()
        raise


@contextlib.contextmanager
def staged_dir(dest: Path, prefix: str) -> Iterator[Path]:
    """A temp directory beside ``dest``, renamed to ``dest`` when the block succeeds.

    Readers never see a half-filled ``dest``: the directory appears whole or not at all.
    ``dest`` may exist as an empty directory (it is replaced). When the block raises, or
    the rename cannot be made durable, the temp directory and everything in it are
    removed (and ``dest`` is left as it was).
    """
    _make_dir(dest.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{prefix}-", dir=dest.parent))
    renamed = False
    try:
        yield staging
        existed = dest.exists()
        if existed:
            dest.rmdir()
        staging.replace(dest)
        renamed = True
        sync_directory(dest.parent)
    except BaseException:
        if renamed:
            shutil.rmtree(dest, ignore_errors=True)
            if existed:
                with contextlib.suppress(OSError):
                    dest.mkdir()
        shutil.rmtree(staging, ignore_errors=True)
        raise


def remove_tree(path: Path) -> None:
    """Remove the directory ``path`` and everything in it, durably (the parent is synced)."""
    shutil.rmtree(path)
    sync_directory(path.parent)


def write_all_or_nothing(files: list[tuple[Path, bytes]]) -> None:
    """Replace several files so that either all get their new bytes or none changes.

    New contents go to synced temp files first (a failure there leaves every file as it
    was); then the temp files are renamed in the given order and each directory is
    synced. If a rename or a directory sync fails, files already replaced get their old
    bytes back (or are removed if they were new).
    """
    with contextlib.ExitStack() as stack:
        staged: list[tuple[Path, StagedFile, bytes | None]] = []
        for path, data in files:
            old = path.read_bytes() if path.exists() else None
            tmp = stack.enter_context(staged_file(path))
            staged.append((path, tmp, old))
            tmp.write(data)
            tmp.sync()
        done: list[tuple[Path, bytes | None]] = []
        try:
            with _reported():
                for path, tmp, old in staged:
                    tmp.commit(sync_dir=False)
                    done.append((path, old))
                for directory in dict.fromkeys(path.parent for path, _ in files):
                    fsync_dir(directory)
        except BaseException:
            for path, old in reversed(done):
                _put_back(path, old)
            raise


def _put_back(path: Path, old: bytes | None) -> None:
    """Best effort while failing: the error being raised is the one to report."""
    with contextlib.suppress(OSError, StorageError):
        if old is None:
            path.unlink()
        else:
            with StagedFile(path) as staged:
                staged.write(old)
                staged.commit(sync_dir=False)
