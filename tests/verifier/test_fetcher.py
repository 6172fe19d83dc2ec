"""Fetchers: directories, memory, the base class's rules (the HTTP transports:
tests/verifier/transport/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import verifier
from tests.repository import Repository
from tests.verifier.conftest import state_of

IMAGE = bytes(range(256)) * 2000  # 512000 bytes


@pytest.fixture
def repo() -> Repository:
    sim = Repository()
    sim.add_target("gw/2.0/fw.bin", IMAGE)
    sim.publish()
    return sim


def test_directory_fetcher(tmp_path: Path) -> None:
    (tmp_path / "mirror" / "metadata").mkdir(parents=True)
    (tmp_path / "mirror" / "metadata" / "a.json").write_bytes(b"0123456789")
    (tmp_path / "secret").write_bytes(b"secret")
    f = verifier.DirectoryFetcher(tmp_path / "mirror", "usb://")
    assert b"".join(f.fetch("usb://metadata/a.json", 10)) == b"0123456789"
    assert b"".join(f.fetch("usb://metadata/a.json", 10, offset=4)) == b"456789"
    with pytest.raises(verifier.DownloadLengthMismatchError):
        list(f.fetch("usb://metadata/a.json", 9))
    with pytest.raises(verifier.DownloadHTTPError) as info:
        list(f.fetch("usb://metadata/missing.json", 9))
    assert info.value.status_code == 404
    for escape in (
        "usb://../secret",
        "usb://metadata/%2e%2e/%2e%2e/secret",
        "usb:///etc/passwd",
        "usb://metadata\\..\\..\\secret",
    ):
        with pytest.raises(verifier.DownloadHTTPError) as info:
            list(f.fetch(escape, 100))
        assert info.value.status_code in (403, 404)


def test_directory_fetcher_refuses_symlink_out(tmp_path: Path) -> None:
    (tmp_path / "mirror").mkdir()
    (tmp_path / "secret").write_bytes(b"secret")
    (tmp_path / "mirror" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(verifier.DownloadHTTPError):
        list(verifier.DirectoryFetcher(tmp_path / "mirror").fetch("link", 100))


def test_directory_fetcher_serves_a_repository(repo: Repository, tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    for url in ["1.root.json", "timestamp.json", "2.snapshot.json", "2.targets.json"]:
        data = repo.files["https://repo.test/metadata/" + url]
        (root / "metadata").mkdir(parents=True, exist_ok=True)
        (root / "metadata" / url).write_bytes(data)
    md = tmp_path / "md"
    md.mkdir()
    (md / "root.json").write_bytes(repo.signed_roots[0])
    up = verifier.Updater(
        md, "file:///mirror/metadata/", fetcher=verifier.DirectoryFetcher(root, "file:///mirror/")
    )
    assert up.get_targetinfo("gw/2.0/fw.bin") is not None


def test_memory_fetcher_cap_and_offset() -> None:
    f = verifier.MemoryFetcher({"u": b"abcdef"}, chunk_size=2)
    assert b"".join(f.fetch("u", 6, offset=2)) == b"cdef"
    with pytest.raises(verifier.DownloadLengthMismatchError):
        b"".join(f.fetch("u", 5))
    with pytest.raises(verifier.DownloadHTTPError):
        f.fetch("v", 5)
    assert f.requests == ["u", "u", "v"]


def test_foreign_fetcher_errors_are_wrapped(repo: Repository, tmp_path: Path) -> None:
    class Broken(verifier.Fetcher):
        def _fetch(self, url: str, offset: int, deadline: verifier.Deadline) -> Iterator[bytes]:
            raise OSError("cable unplugged")

    md = tmp_path / "md"
    md.mkdir()
    (md / "root.json").write_bytes(repo.signed_roots[0])
    with pytest.raises(verifier.DownloadError) as info:
        verifier.Updater(md, "https://x/", fetcher=Broken()).refresh()
    assert isinstance(info.value.__cause__, OSError)


class _Failing(verifier.Fetcher):
    """Raises ``error`` for URLs containing ``part``: opening them, or mid-body."""

    def __init__(
        self, inner: verifier.Fetcher, part: str, error: BaseException, where: str
    ) -> None:
        self.inner, self.part, self.error, self.where = inner, part, error, where

    def _fetch(self, url: str, offset: int, deadline: verifier.Deadline) -> Iterator[bytes]:
        chunks = self.inner._fetch(url, offset, deadline)
        if self.part not in url:
            return chunks
        if self.where == "head":
            raise self.error
        return self._then_fail(chunks)

    def _then_fail(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        yield next(iter(chunks))[:1]
        raise self.error


@pytest.mark.parametrize("where", ["head", "body"])
@pytest.mark.parametrize(
    "error", [MemoryError(), ImportError("no module named ssl")], ids=["memory", "import"]
)
@pytest.mark.parametrize("what", ["metadata", "image"])
def test_memory_and_import_errors_are_not_network_trouble(
    repo: Repository, tmp_path: Path, what: str, error: BaseException, where: str
) -> None:
    """Issue 9 item 6: out of memory or a missing module during a fetch is the device's
    own trouble, raised as it is, never a DownloadError ("network, retry later")."""
    md = tmp_path / "md"
    good = repo.updater(md)
    target = good.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    if what == "metadata":
        repo.publish()  # something new to fetch
    part = "timestamp.json" if what == "metadata" else "fw.bin"
    up = repo.updater(md, fetcher=_Failing(repo.fetcher, part, error, where))
    before = state_of(md)
    with pytest.raises(type(error)) as info:
        if what == "metadata":
            up.refresh()
        else:
            up.download(target, tmp_path / "fw.bin")
    assert info.value is error and not isinstance(info.value, verifier.VerifierError)
    # The bytes that came before the error may stay as a partial download (resumable).
    after = {k: v for k, v in state_of(md).items() if not k.startswith("firmtuf/partial/")}
    assert after == before
    assert not (tmp_path / "fw.bin").exists()


def test_fetcher_that_overrides_fetch_is_refused(tmp_path: Path) -> None:
    """fetch() enforces the Config's deadline: a fetcher replacing it would drop it."""

    class Legacy(verifier.Fetcher):
        def fetch(  # type: ignore[override]
            self, url: str, max_length: int, offset: int = 0, **kw: object
        ) -> Iterator[bytes]:
            return iter([b""])

    with pytest.raises(TypeError, match="_fetch"):
        verifier.Updater(tmp_path, "https://x/", fetcher=Legacy())
    with pytest.raises(TypeError, match="Fetcher"):
        verifier.Updater(tmp_path, "https://x/", fetcher=object())  # type: ignore[arg-type]
