"""`firmtuf demo`: the whole job on local defaults, start to finish, in one command."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tuf.api.metadata import Root

from signer._client import ClientRefusal, device_update
from signer._errors import RepositoryLocationError, VerificationError
from signer._init import init_repository
from signer._keys import static_secret
from signer._publish import publish
from signer._repository import FirmwareRepository
from signer._targets import FirmwareFields, add_firmware
from signer._tree import METADATA, TARGETS, metadata_key

DEMO_PASSWORD = "firmtuf-demo"  # noqa: S105 - throwaway keys of a demo, printed to the user
DEMO_HARDWARE_ID = "demo-board"
DEMO_VERSION = "1.0.0"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        del format, args


# The demo's own server, not tests/loopback.py: product code cannot import the tests.
@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (ephemeral port) while in the block.

    Yields the base URL (with a trailing slash). The server is shut down on exit.
    """
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class DemoResult:
    """Outcome of the demo: the device must accept the real image and refuse the copy."""

    directory: Path
    accepted_sha256: str
    refusal: str


def _prepare(directory: Path | None) -> tuple[Path, bool]:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="firmtuf-demo-")), True
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise RepositoryLocationError(f"{directory} exists and is not an empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    return directory, False


def run_demo(directory: Path | None, say: Callable[[str], None]) -> DemoResult:
    """Run the demo in ``directory`` (a temp dir, removed afterwards, when None).

    Raises:
        RepositoryLocationError: ``directory`` is not empty.
        VerificationError: the device did not accept the image or accepted the tampered one.
    """
    work, temporary = _prepare(directory)
    try:
        return _run(work, say, temporary)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)


def _run(work: Path, say: Callable[[str], None], temporary: bool) -> DemoResult:
    published, name = _release(work, say)
    root = (published / metadata_key(Root.type, 1)).read_bytes()
    _tampered_copy(published, work / "tampered")
    with serve_directory(work) as base:
        say(f"5. Serve it over HTTP at {base}published/ (127.0.0.1 only).")
        say(
            f"6. A {DEMO_HARDWARE_ID} device running 0.9.0 that ships 1.root.json checks "
            f"for updates, picks {name} and downloads it:"
        )
        try:
            got = _device(f"{base}published/", root, name, work / "device" / "accepted.bin")
        except ClientRefusal as e:
            raise VerificationError(f"the device refused the genuine image: {e}") from e
        digest = hashlib.sha256(got.read_bytes()).hexdigest()
        say(f"   ACCEPTED: signatures, versions, length and sha256 {digest[:16]}... verified.")
        say(f"7. One byte of the image flipped in a copy served at {base}tampered/:")
        try:
            _device(f"{base}tampered/", root, name, work / "device" / "tampered.bin")
        except ClientRefusal as e:
            refusal = str(e)
        else:
            raise VerificationError("the device accepted a tampered image")
        say(f"   REFUSED: {refusal}")
    say(
        "The server is stopped. "
        + (
            "Demo files were in a temporary directory, now removed (pass DIR to keep them)."
            if temporary
            else f"Demo files are in {work}."
        )
    )
    return DemoResult(work, digest, refusal)


def _release(work: Path, say: Callable[[str], None]) -> tuple[Path, str]:
    """Steps 1-4: a repository with one signed firmware, published; (tree, target name)."""
    repo_dir = work / "repo"
    say(f"1. Create a repository in {repo_dir}: ed25519 keys for root, targets, snapshot,")
    say(f"   timestamp, encrypted with the demo password {DEMO_PASSWORD!r} (demo only).")
    init_repository(repo_dir, password=DEMO_PASSWORD)

    image = work / "firmware" / "demo-board.bin"
    image.parent.mkdir()
    image.write_bytes(b"FIRMTUF DEMO FIRMWARE 1.0.0\n" + os.urandom(64 * 1024))
    say(
        f"2. Add a sample firmware {image.name} for hardware {DEMO_HARDWARE_ID!r}, "
        f"version {DEMO_VERSION}."
    )
    add_firmware(
        FirmwareRepository(repo_dir), [image], FirmwareFields((DEMO_HARDWARE_ID,), DEMO_VERSION)
    )

    say("3. Sign targets, snapshot and timestamp.")
    repo = FirmwareRepository(repo_dir, secrets_handler=static_secret(DEMO_PASSWORD))
    repo.sign()
    repo.save()

    published = work / "published"
    say(f"4. Publish the servable tree to {published} (checked as a client before writing).")
    publish(FirmwareRepository(repo_dir), published)
    return published, f"{DEMO_HARDWARE_ID}/{DEMO_VERSION}/{image.name}"


def _tampered_copy(published: Path, tampered: Path) -> None:
    """A copy of the tree with one bit of the image flipped (what an attacker serves)."""
    shutil.copytree(published, tampered)
    copy = next(p for p in (tampered / TARGETS).rglob("*") if p.is_file())
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))


def _device(base: str, root: bytes, name: str, dest: Path) -> Path:
    """A demo-board device on 0.9.0 updating from the tree at ``base``."""
    return device_update(
        base + METADATA,
        base + TARGETS,
        root,
        name,
        dest,
        hardware_id=DEMO_HARDWARE_ID,
        installed_version="0.9.0",
    )
