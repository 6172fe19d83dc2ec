"""The floor: the least work any TUF client has to do, written plainly.

Every goal in docs/benchmarks.md is also reported as a ratio to this code, measured in the
same run by the same runner (`_run_client.py floor ...`). It is not a client: it checks
signatures and nothing else (no expiry, versions, hashes, rollback, types or limits) and
it trusts the repository's shape. What it does do, every client must do too:

- HTTP on one kept-alive `http.client` connection (the cheapest transport in the standard
  library);
- verify each metadata file's signatures over its raw `signed` bytes first, then parse the
  `signed` part once with `json.loads` (with the GC paused while it builds the objects);
  the files are in canonical form (`{"signatures":[...],"signed":{...}}`);
- the same signature checks as the TUF workflow: the trusted root by its own keys, each new
  root by the old and the new root keys, timestamp, snapshot, targets and the delegated
  role by their delegator's keys (Ed25519, the keys of the benchmark repositories);
- store what it trusts durably (write, fsync, rename; one directory fsync at the end);
- download an image to a file with SHA-256 computed in a second thread while the next
  chunk arrives (a bounded queue), fsync, rename, compare the digest.

Imports: http.client and json; cryptography's Ed25519 on the first signature; hashlib,
queue and threading on the first download.
"""

from __future__ import annotations

import gc
import http.client
import json
import os
from urllib.parse import urlsplit

CHUNK = 256 * 1024
_SIGNED = b',"signed":'
# Signatures checked and the bytes they covered (the constrained-device estimates use them).
COUNTS = {"signatures": 0, "signed_bytes": 0}


class Connection:
    """One kept-alive HTTP/1.1 connection to the server of `base_url`."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.prefix = parts.path
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def response(self, path: str) -> http.client.HTTPResponse | None:
        """The response to GET `path` (under base_url); None for a 404."""
        self.conn.request("GET", self.prefix + path)
        resp = self.conn.getresponse()
        if resp.status == 404:
            resp.read()
            return None
        if resp.status != 200:
            raise OSError(f"GET {path}: HTTP {resp.status}")
        return resp

    def get(self, path: str) -> bytes | None:
        resp = self.response(path)
        return None if resp is None else resp.read()

    def close(self) -> None:
        self.conn.close()


class Files:
    """The same two calls on a repository directory (the in-process runs)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def response(self, path: str):
        try:
            return open(os.path.join(self.root, path), "rb")
        except FileNotFoundError:
            return None

    def get(self, path: str) -> bytes | None:
        f = self.response(path)
        if f is None:
            return None
        with f:
            return f.read()

    def close(self) -> None:
        pass


def connect(source: str) -> Connection | Files:
    """An HTTP connection for an http:// URL, else the repository directory `source`."""
    return Connection(source) if source.startswith("http://") else Files(source)


def check_signatures(data: bytes, keys: dict, role: dict) -> bytes:
    """Check `role`'s threshold of Ed25519 signatures over the raw `signed` bytes of
    `data`; return those bytes."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    head, _, rest = data.partition(_SIGNED)
    signed = rest[:-1]  # without the closing brace of the document
    signatures = json.loads(head[len(b'{"signatures":') :])
    good = 0
    for sig in signatures:
        if sig["keyid"] in role["keyids"]:
            public = bytes.fromhex(keys[sig["keyid"]]["keyval"]["public"])
            Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(sig["sig"]), signed)
            good += 1
            COUNTS["signatures"] += 1
            COUNTS["signed_bytes"] += len(signed)
    if good < role["threshold"]:
        raise ValueError("threshold not met")
    return signed


def parse(signed: bytes) -> dict:
    # The cyclic GC would walk the growing document again and again while it is built.
    gc.disable()
    try:
        return json.loads(signed)
    finally:
        gc.enable()


def verify_then_parse(data: bytes, keys: dict, role: dict) -> dict:
    """`signed` of `data`, parsed once its signatures are checked."""
    return parse(check_signatures(data, keys, role))


def store(directory: str, name: str, data: bytes) -> None:
    """Write `data` as `directory/name`: temp file, fsync, rename (directory synced later)."""
    tmp = os.path.join(directory, f".{name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(directory, name))


def sync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Floor:
    """refresh / lookup / download with the least work (see the module docstring)."""

    def __init__(self, metadata_dir: str, source: str) -> None:
        self.dir = metadata_dir
        self.conn = connect(source)
        self.targets: dict = {}
        self.delegated: dict = {}

    def refresh(self) -> None:
        with open(os.path.join(self.dir, "root.json"), "rb") as f:
            data = f.read()
        root = self._self_signed_root(data)
        while (new := self.conn.get(f"metadata/{root['version'] + 1}.root.json")) is not None:
            check_signatures(new, root["keys"], root["roles"]["root"])  # old keys
            root = self._self_signed_root(new)  # new keys
            store(self.dir, "root.json", new)
        keys, roles = root["keys"], root["roles"]
        data = self.conn.get("metadata/timestamp.json")
        timestamp = verify_then_parse(data, keys, roles["timestamp"])
        store(self.dir, "timestamp.json", data)
        version = timestamp["meta"]["snapshot.json"]["version"]
        data = self.conn.get(f"metadata/{version}.snapshot.json")
        self.snapshot = verify_then_parse(data, keys, roles["snapshot"])
        store(self.dir, "snapshot.json", data)
        self.targets = self._role("targets", keys, roles["targets"])
        sync_dir(self.dir)

    def _self_signed_root(self, data: bytes) -> dict:
        # A root holds the keys that must have signed it: parse it (it is small), then
        # check its signatures with them.
        root = parse(data.partition(_SIGNED)[2][:-1])
        check_signatures(data, root["keys"], root["roles"]["root"])
        return root

    def _role(self, name: str, keys: dict, role: dict) -> dict:
        version = self.snapshot["meta"][f"{name}.json"]["version"]
        data = self.conn.get(f"metadata/{version}.{name}.json")
        signed = verify_then_parse(data, keys, role)
        store(self.dir, f"{name}.json", data)
        return signed

    def lookup(self, target: str) -> dict | None:
        """The target's entry: in targets, else in the first delegated role whose path
        pattern (`dir/*/*` in the benchmark repositories) covers it."""
        found = self.targets["targets"].get(target)
        if found is not None:
            return dict(found, path=target)
        delegations = self.targets["delegations"]
        for role in delegations["roles"]:
            pattern = role["paths"][0].split("/")
            parts = target.split("/")
            if len(pattern) == len(parts) and all(
                p in (t, "*") for p, t in zip(pattern, parts, strict=True)
            ):
                if role["name"] not in self.delegated:
                    self.delegated[role["name"]] = self._role(
                        role["name"], delegations["keys"], role
                    )
                    sync_dir(self.dir)
                found = self.delegated[role["name"]]["targets"].get(target)
                if found is not None:
                    return dict(found, path=target)
        return None

    def download(self, entry: dict, dest: str) -> None:
        """Fetch the (consistent-snapshot, hash-prefixed) image of `entry` to `dest`."""
        digest = entry["hashes"]["sha256"]
        dirname, _, basename = entry["path"].rpartition("/")
        path = f"targets/{dirname}/{digest}.{basename}"
        download(self.conn, path, dest, digest)


def download(conn: Connection | Files, path: str, dest: str, sha256: str | None) -> None:
    """GET `path` into `dest`, hashing in a second thread; raise if the digest differs."""
    import hashlib  # only here: it maps a second copy of OpenSSL (memory)
    import queue
    import threading

    resp = conn.response(path)
    if resp is None:
        raise OSError(f"{path}: not found")
    hasher = hashlib.sha256()
    chunks: queue.Queue = queue.Queue(maxsize=4)  # bounded: memory stays a few chunks
    # The hashing thread needs no 8 MiB stack (the default reservation).
    old_size = threading.stack_size(256 * 1024)
    worker = threading.Thread(target=lambda: [hasher.update(c) for c in iter(chunks.get, b"")])
    worker.start()
    threading.stack_size(old_size)
    tmp = dest + ".part"
    try:
        with open(tmp, "wb") as f:
            while chunk := resp.read(CHUNK):
                chunks.put(chunk)
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
    finally:
        chunks.put(b"")
        worker.join()
    if sha256 is not None and hasher.hexdigest() != sha256:
        os.unlink(tmp)
        raise ValueError(f"{path}: hash mismatch")
    os.replace(tmp, dest)
    sync_dir(os.path.dirname(dest) or ".")


def poll_requests(source: str, next_root: int) -> None:
    """The two requests of a poll with nothing new, on a new connection: the next root
    (404) and timestamp.json."""
    conn = connect(source)
    try:
        if conn.get(f"metadata/{next_root}.root.json") is not None:
            raise ValueError("unexpected new root")
        conn.get("metadata/timestamp.json")
    finally:
        conn.close()


def poll(metadata_dir: str, source: str, roles: list[str]) -> dict:
    """A poll with nothing new: the stored metadata verified again, the two requests."""
    root = verify_stored(metadata_dir, roles)
    poll_requests(source, root["version"] + 1)
    return root


def verify_stored(metadata_dir: str, roles: list[str]) -> dict:
    """Read and verify the stored metadata a poll must trust again (root by itself,
    then each role by its delegator), parsing each once; return the root."""

    def read(name: str) -> bytes:
        with open(os.path.join(metadata_dir, f"{name}.json"), "rb") as f:
            return f.read()

    floor = Floor.__new__(Floor)
    root = floor._self_signed_root(read("root"))
    for name in ("timestamp", "snapshot", "targets"):
        signed = verify_then_parse(read(name), root["keys"], root["roles"][name])
    for name in roles:
        delegation = next(r for r in signed["delegations"]["roles"] if r["name"] == name)
        verify_then_parse(read(name), signed["delegations"]["keys"], delegation)
    return root
