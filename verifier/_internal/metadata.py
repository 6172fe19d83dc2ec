"""The TUF metadata model, parsed strictly from JSON bytes.

Every field the client workflow reads is type-checked here; anything malformed raises
MetadataFormatError (never KeyError/TypeError). Unknown fields are ignored, as the
specification asks. Signatures are checked by :func:`verify_signatures` with the keys and
threshold of the delegating role, counting each distinct key once, before the metadata is
parsed when it is in canonical layout (:func:`load`, docs/adr/0014).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatchcase

from verifier._errors import (
    LengthOrHashMismatchError,
    MetadataFormatError,
    UnsignedMetadataError,
)
from verifier._internal.canonical import (
    check_colons,
    decode,
    encode_canonical,
    loads_counted,
    parse_signed,
    split_envelope,
)
from verifier._internal.dates import days_from_civil
from verifier._internal.firmware import FirmwareInfo
from verifier._internal.hashing import new_hasher, sha256
from verifier._internal.keys import Key, UnknownKey

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Callable
    from typing import Any, TypeVar

    S = TypeVar("S", bound="Signed")

SPEC_MAJOR = "1"
TOP_LEVEL_ROLES = frozenset(("root", "timestamp", "snapshot", "targets"))
_EXPIRES_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")


def _fail(msg: str) -> MetadataFormatError:
    return MetadataFormatError(msg)


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"{what} must be an object")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _fail(f"{what} must be a string")
    return value


def _int(value: Any, what: str, minimum: int = 0) -> int:
    # bool is an int subclass in Python, not in JSON.
    if type(value) is not int or value < minimum:
        raise _fail(f"{what} must be an integer >= {minimum}")
    return value


def _parse_expires(value: Any) -> int:
    text = _str(value, "expires")
    m = _EXPIRES_RE.fullmatch(text)
    if m is None:
        raise _fail(f"expires {text!r} is not YYYY-MM-DDTHH:MM:SSZ")
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60):
        raise _fail(f"expires {text!r} is not a valid date")
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > _MONTH_DAYS[month - 1] + (month == 2 and leap):
        raise _fail(f"expires {text!r} is not a valid date")
    return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _hashes(value: Any, what: str) -> dict[str, str]:
    hashes = _dict(value, f"{what} hashes")
    if not hashes:
        raise _fail(f"{what} hashes must not be empty")
    for algo, digest in hashes.items():
        if not isinstance(digest, str):
            raise _fail(f"{what} hash {algo!r} must be a string")
    return hashes


class LengthAndHashes:
    """The one streaming check of bytes against a trusted length and hashes.

    Feed the bytes (``update``/``feed``, in any chunks, resumable), then ``verify``.
    Never accepts more than the trusted length and never asks for more than it.

    Attributes:
        length: the trusted length, or None when only hashes are trusted.
        received: bytes seen so far.
    """

    __slots__ = ("_hashers", "length", "received", "what")

    def __init__(self, length: int | None, hashes: dict[str, str] | None, what: str) -> None:
        self.length = length
        self.what = what
        self.received = 0
        self._hashers = [
            (algo, new_hasher(algo, what), digest.lower())
            for algo, digest in (hashes or {}).items()
        ]

    def update(self, chunk: bytes) -> None:
        """Account for ``chunk``.

        Raises:
            LengthOrHashMismatchError: the trusted length is exceeded.
        """
        self._count(chunk)
        for _, hasher, _ in self._hashers:
            hasher.update(chunk)

    def _count(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.length is not None and self.received > self.length:
            raise LengthOrHashMismatchError(f"{self.what}: more than {self.length} bytes")

    def feed(self, chunks: Iterator[bytes], sink: Callable[[bytes], object] | None = None) -> None:
        """Check (and pass to ``sink``) ``chunks`` until the trusted length is reached.

        Stops reading there (a server holding the connection open after the trusted
        bytes does not delay the download) and closes ``chunks``. From
        ``overlap.MIN_BYTES`` still to check on, the hashes are computed in a second
        thread while the next chunk is received and this one goes to ``sink``
        (``_internal/overlap``); when this returns or raises, every chunk counted is
        hashed, as without it.

        Raises:
            LengthOrHashMismatchError: more bytes than the trusted length.
        """
        worker = None
        if self._hashers and self.length is not None:
            from verifier._internal import overlap

            if self.length - self.received >= overlap.MIN_BYTES:
                worker = overlap.HashWorker([hasher for _, hasher, _ in self._hashers])
        ok = False
        try:
            for chunk in chunks:
                if worker is None:
                    self.update(chunk)
                else:
                    self._count(chunk)
                    worker.put(chunk)
                if sink is not None:
                    sink(chunk)
                if self.received == self.length:
                    break
            ok = True
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            if worker is not None:
                worker.finish(raise_error=ok)

    @property
    def complete(self) -> bool:
        """Whether the trusted length has been reached."""
        return self.received == self.length

    def verify(self) -> None:
        """Check the bytes seen against the trusted length and hashes.

        Raises:
            LengthOrHashMismatchError: length differs, a hash differs or uses an
                unknown algorithm.
        """
        if self.length is not None and self.received != self.length:
            raise LengthOrHashMismatchError(
                f"{self.what}: got {self.received} bytes, expected {self.length}"
            )
        for algo, hasher, digest in self._hashers:
            if hasher.hexdigest() != digest:
                raise LengthOrHashMismatchError(f"{self.what}: {algo} hash mismatch")


def verify_length_and_hashes(
    data: bytes, length: int | None, hashes: dict[str, str] | None, what: str
) -> None:
    """Check ``data`` against a trusted length and hashes.

    Raises:
        LengthOrHashMismatchError: length differs, a hash differs or uses an unknown
            algorithm.
    """
    if length is not None and len(data) != length:
        # Before hashing: a wrong length needs no hash of possibly huge bytes.
        raise LengthOrHashMismatchError(f"{what}: length {len(data)}, expected {length}")
    check = LengthAndHashes(length, hashes, what)
    check.update(data)
    check.verify()


class Role:
    """Key ids and threshold trusted for one role."""

    __slots__ = ("keyids", "threshold")

    def __init__(self, keyids: tuple[str, ...], threshold: int) -> None:
        self.keyids = keyids
        self.threshold = threshold

    @classmethod
    def from_dict(cls, data: Any, what: str) -> Role:
        data = _dict(data, what)
        keyids = data.get("keyids")
        if not isinstance(keyids, list) or not all(isinstance(k, str) for k in keyids):
            raise _fail(f"{what} keyids must be a list of strings")
        if len(set(keyids)) != len(keyids):
            raise _fail(f"{what} keyids must be unique")
        threshold = _int(data.get("threshold"), f"{what} threshold", 1)
        return cls(tuple(keyids), threshold)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Role)
            and self.threshold == other.threshold
            and set(self.keyids) == set(other.keyids)
        )

    def __hash__(self) -> int:
        return hash((frozenset(self.keyids), self.threshold))


def _parse_keys(data: Any, what: str) -> dict[str, Key]:
    return {
        _str(keyid, f"{what} key id"): Key.from_dict(keyid, key)
        for keyid, key in _dict(data, f"{what} keys").items()
    }


class Envelope:
    """A parsed ``{"signed": ..., "signatures": [...]}`` document."""

    __slots__ = ("message", "signatures", "signed", "unchecked")

    def __init__(
        self,
        signed: dict[str, Any],
        signatures: dict[str, str],
        unchecked: int | None = None,
        message: bytes | memoryview | None = None,
    ) -> None:
        self.signed = signed
        self.signatures = signatures
        self.message = message
        """The bytes of ``signed`` exactly as in the document, when it is in canonical
        layout and they are kept (roots, checked by two key sets; see :func:`parse`)."""
        self.unchecked = unchecked
        """The colons the canonical ``signed`` must hold while that duplicate-key check
        (canonical.loads_counted) is still to be made; None: nothing left to check. The
        document itself is not kept to name the key: it would raise the peak memory
        (trusted_set frees the text before the signature check)."""

    @classmethod
    def from_bytes(cls, data: bytes | str, expected_type: str) -> Envelope:
        """Parse a metadata document.

        Raises:
            MetadataFormatError: not JSON, not a TUF envelope, of another type, or (here or
                when its canonical bytes are first taken) a JSON object repeats a key.
        """
        parsed, colons = loads_counted(data)
        doc = _dict(parsed, "metadata")
        signed = _dict(doc.get("signed"), "signed")
        signatures = _signatures(doc.get("signatures"))
        _check_type(signed, expected_type)
        if colons is not None:
            # The envelope around "signed" (its key included) is small: counted now; the
            # colons left belong to the signed part, checked with its canonical bytes.
            rest = {k: v for k, v in doc.items() if k != "signed"}
            colons -= 1 + encode_canonical(rest, _decoded=True).count(b":")
        return cls(signed, signatures, colons)

    def signed_bytes(self) -> bytes:
        """The canonical bytes of ``signed``: what signatures cover.

        Raises:
            MetadataFormatError: not expressible in canonical JSON, or the document
                repeated a key in an object.
        """
        data = encode_canonical(self.signed, _decoded=True)
        if self.unchecked is not None:
            check_colons(data, self.unchecked)
            self.unchecked = None
        return data


def _signatures(sigs: Any) -> dict[str, str]:
    if not isinstance(sigs, list):
        raise _fail("signatures must be a list")
    signatures: dict[str, str] = {}
    for sig in sigs:
        sig = _dict(sig, "signature")
        keyid = _str(sig.get("keyid"), "signature keyid")
        value = _str(sig.get("sig"), "signature sig")
        if keyid in signatures:
            raise _fail(f"multiple signatures for key id {keyid}")
        signatures[keyid] = value
    return signatures


def _check_type(signed: dict[str, Any], expected_type: str) -> None:
    kind = signed.get("_type")
    if kind != expected_type:
        raise _fail(f"expected {expected_type} metadata, got _type {kind!r}")


def verify_signatures(
    signatures: dict[str, str],
    message: bytes | memoryview,
    role: Role,
    keys: dict[str, Key],
    what: str,
) -> None:
    """Check that a threshold of distinct keys of ``role`` signed ``message``.

    Raises:
        UnsignedMetadataError: fewer than ``role.threshold`` distinct valid signatures.
        MetadataFormatError: a key needed for counting is malformed.
        CryptoUnavailableError: a key's primitive cannot be loaded.
    """
    counted: set[tuple[str, bytes]] = set()
    for keyid in role.keyids:
        sig = signatures.get(keyid)
        key = keys.get(keyid)
        if sig is None or key is None:
            continue
        if key.verify(sig, message):
            counted.add(key.identity())
            if len(counted) >= role.threshold:
                return
    unknown = sorted(
        {k.kind for i in role.keyids if (k := keys.get(i)) is not None and type(k) is UnknownKey}
    )
    raise UnsignedMetadataError(
        f"{what} has {len(counted)} valid signatures, threshold is {role.threshold}"
        + (f" (keys of types this verifier cannot check: {', '.join(unknown)})" if unknown else "")
    )


class Signed:
    """Fields common to all metadata types."""

    __slots__ = ("envelope", "expires", "version")
    type_name = ""

    def __init__(self, env: Envelope) -> None:
        signed = env.signed
        spec = _str(signed.get("spec_version"), "spec_version")
        parts = spec.split(".")
        if len(parts) not in (2, 3) or not all(p.isdigit() and p.isascii() for p in parts):
            raise _fail(f"spec_version {spec!r} is not N.N[.N]")
        if parts[0] != SPEC_MAJOR:
            raise _fail(f"unsupported spec_version {spec!r}")
        self.version = _int(signed.get("version"), "version", 1)
        self.expires = _parse_expires(signed.get("expires"))
        self.envelope = env

    def signed_bytes(self) -> bytes:
        """The canonical bytes signatures cover (computed on demand, not kept: memory).

        Raises:
            MetadataFormatError: not expressible in canonical JSON, or the document
                repeated a key in an object.
        """
        return self.envelope.signed_bytes()

    def is_expired(self, reference_time: float) -> bool:
        """True when ``reference_time`` (seconds since the epoch) is at or past expiry."""
        return reference_time >= self.expires


class MetaFile:
    """A snapshot/timestamp ``meta`` entry: version and optional length and hashes."""

    __slots__ = ("hashes", "length", "version")

    def __init__(self, data: Any, what: str) -> None:
        data = _dict(data, what)
        self.version = _int(data.get("version"), f"{what} version", 1)
        length = data.get("length")
        self.length = None if length is None else _int(length, f"{what} length")
        hashes = data.get("hashes")
        self.hashes = None if hashes is None else _hashes(hashes, what)

    def verify(self, data: bytes, what: str) -> None:
        """Raises LengthOrHashMismatchError when ``data`` does not match."""
        verify_length_and_hashes(data, self.length, self.hashes, what)


class Root(Signed):
    """root.json: the keys and thresholds of the top-level roles."""

    __slots__ = ("consistent_snapshot", "keys", "roles")
    type_name = "root"

    def __init__(self, env: Envelope) -> None:
        super().__init__(env)
        signed = env.signed
        self.keys = _parse_keys(signed.get("keys"), "root")
        roles = _dict(signed.get("roles"), "root roles")
        if set(roles) != TOP_LEVEL_ROLES:
            raise _fail("root roles must be exactly root, timestamp, snapshot, targets")
        self.roles = {name: Role.from_dict(r, f"root role {name}") for name, r in roles.items()}
        cs = signed.get("consistent_snapshot", False)
        if not isinstance(cs, bool):
            raise _fail("consistent_snapshot must be a boolean")
        self.consistent_snapshot = cs

    def delegate(self, role_name: str) -> tuple[Role, dict[str, Key]]:
        """The threshold and keys this root trusts for the top-level ``role_name``."""
        return self.roles[role_name], self.keys

    def verify_delegate(self, role_name: str, other: Signed) -> None:
        """Raises UnsignedMetadataError unless ``other`` meets ``role_name``'s threshold."""
        _verify(other.envelope, *self.delegate(role_name), role_name)

    def load_delegate(self, role_name: str, cls: type[S], data: bytes) -> S:
        """``data`` parsed as ``cls`` once it meets ``role_name``'s threshold (:func:`load`).

        Raises:
            RepositoryError: malformed, or not signed by a threshold of the role's keys.
        """
        return load(cls, data, *self.delegate(role_name), role_name)


class Timestamp(Signed):
    """timestamp.json: the current snapshot version."""

    __slots__ = ("snapshot_meta",)
    type_name = "timestamp"

    def __init__(self, env: Envelope) -> None:
        super().__init__(env)
        meta = _dict(env.signed.get("meta"), "timestamp meta")
        if list(meta) != ["snapshot.json"]:
            raise _fail("timestamp meta must list snapshot.json and nothing else")
        self.snapshot_meta = MetaFile(meta["snapshot.json"], "snapshot.json meta")


class Snapshot(Signed):
    """snapshot.json: the versions of targets metadata."""

    __slots__ = ("meta",)
    type_name = "snapshot"

    def __init__(self, env: Envelope) -> None:
        super().__init__(env)
        meta = _dict(env.signed.get("meta"), "snapshot meta")
        self.meta = {_str(n, "meta name"): MetaFile(m, f"{n} meta") for n, m in meta.items()}


class TargetFile:
    """A target file as trusted metadata describes it.

    Attributes:
        path: the target name.
        length: size in bytes.
        hashes: algorithm name -> hex digest.
        custom: the ``custom`` object, or None.
    """

    __slots__ = ("_firmware", "custom", "hashes", "length", "path")

    def __init__(self, path: str, data: Any) -> None:
        what = f"target {path!r}"
        if type(data) is not dict:
            raise _fail(f"{what} must be an object")
        length = data.get("length")
        if type(length) is not int or length < 0:
            raise _fail(f"{what} length must be an integer >= 0")
        hashes = data.get("hashes")
        if type(hashes) is not dict or not hashes:
            raise _fail(f"{what} hashes must be a non-empty object")
        for digest in hashes.values():
            if type(digest) is not str:
                raise _fail(f"{what} hashes must be strings")
        custom = data.get("custom")
        if custom is not None and type(custom) is not dict:
            raise _fail(f"{what} custom must be an object")
        self.path = path
        self.length: int = length
        self.hashes: dict[str, str] = hashes
        self.custom: dict[str, Any] | None = custom
        self._firmware: Any = None

    @property
    def firmware(self) -> Any:
        """The firmware facts (``FirmwareInfo``) of ``custom.firmtuf``, or None.

        Raises:
            MetadataFormatError: ``custom.firmtuf`` is present but malformed (ADR 0001).
        """
        if self._firmware is None and self.custom is not None and "firmtuf" in self.custom:
            self._firmware = FirmwareInfo.from_dict(self.custom["firmtuf"], self.path)
        return self._firmware

    @classmethod
    def error(cls, path: str, data: Any) -> MetadataFormatError:
        """The precise format error of a malformed target entry."""
        try:
            cls(path, data)
        except MetadataFormatError as e:
            return e
        return _fail(f"target {path!r} is malformed")

    def verify(self, data: bytes) -> None:
        """Raises LengthOrHashMismatchError when ``data`` is not this target."""
        verify_length_and_hashes(data, self.length, self.hashes, f"target {self.path!r}")

    def checker(self) -> LengthAndHashes:
        """A streaming check of this target's bytes (download, resume, cache check).

        Raises:
            LengthOrHashMismatchError: a hash algorithm is unsupported.
        """
        return LengthAndHashes(self.length, self.hashes, f"target {self.path!r}")

    def __repr__(self) -> str:
        return f"TargetFile({self.path!r}, length={self.length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TargetFile) and (
            self.path,
            self.length,
            self.hashes,
            self.custom,
        ) == (other.path, other.length, other.hashes, other.custom)

    def __hash__(self) -> int:
        return hash((self.path, self.length))


HARDWARE_BINDING_FIELD = "firmtuf_hardware_ids"
"""Delegation field: the hardware ids (fnmatch patterns) its targets may name (ADR 0008)."""
MAX_BIT_LENGTH = 16
"""Largest succinct hash-bin ``bit_length`` accepted: 65,536 bins, the signer's maximum."""


def admits_hardware_id(patterns: tuple[str, ...] | None, hardware_id: str) -> bool:
    """Whether a delegation bound to ``patterns`` may ship to ``hardware_id``.

    None (no binding) admits every hardware id; patterns are ``fnmatch`` patterns matched
    case-sensitively (``acme-gw-*``).
    """
    return patterns is None or any(fnmatchcase(hardware_id, p) for p in patterns)


def _hardware_binding(data: dict[str, Any], what: str) -> tuple[str, ...] | None:
    value = data.get(HARDWARE_BINDING_FIELD)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(p, str) and p and p.isprintable() and " " not in p for p in value)
    ):
        raise _fail(f"{what} {HARDWARE_BINDING_FIELD} must be a non-empty list of patterns")
    return tuple(value)


class DelegatedRole(Role):
    """A delegation: role name, keys, threshold, terminating flag and the paths it covers.

    Attributes:
        hardware_ids: the hardware-id binding (patterns), or None when unbound.
    """

    __slots__ = ("hardware_ids", "name", "path_hash_prefixes", "paths", "terminating")

    def __init__(self, data: Any) -> None:
        data = _dict(data, "delegated role")
        name = _str(data.get("name"), "delegated role name")
        base = Role.from_dict(data, f"delegated role {name!r}")
        super().__init__(base.keyids, base.threshold)
        self.name = name
        self.hardware_ids = _hardware_binding(data, f"delegated role {name!r}")
        if name in TOP_LEVEL_ROLES:
            raise _fail(f"delegated role name {name!r} is a top-level role name")
        terminating = data.get("terminating")
        if not isinstance(terminating, bool):
            raise _fail(f"delegated role {name!r} terminating must be a boolean")
        self.terminating = terminating
        paths = data.get("paths")
        prefixes = data.get("path_hash_prefixes")
        if (paths is None) == (prefixes is None):
            raise _fail(f"delegated role {name!r} needs exactly one of paths, path_hash_prefixes")
        for value, field in ((paths, "paths"), (prefixes, "path_hash_prefixes")):
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(p, str) for p in value)
            ):
                raise _fail(f"delegated role {name!r} {field} must be a list of strings")
        self.paths: list[str] | None = paths
        self.path_hash_prefixes: list[str] | None = prefixes

    def is_delegated_path(self, target_path: str) -> bool:
        """Whether this role is trusted for ``target_path``."""
        if self.paths is not None:
            return any(_path_matches(target_path, p) for p in self.paths)
        assert self.path_hash_prefixes is not None  # noqa: S101 - checked in __init__
        digest = sha256(target_path.encode("utf-8", "surrogatepass")).hex()
        return any(digest.startswith(p) for p in self.path_hash_prefixes)


def _path_matches(target_path: str, pattern: str) -> bool:
    # The spec's fnmatch semantics with "*" not crossing "/": match segment by segment.
    target_parts = target_path.split("/")
    pattern_parts = pattern.split("/")
    if len(target_parts) != len(pattern_parts):
        return False
    return all(fnmatchcase(t, p) for t, p in zip(target_parts, pattern_parts, strict=True))


class SuccinctRoles(Role):
    """TAP 15 succinct hash-bin delegation: ``2**bit_length`` bins named ``prefix-XX``.

    Attributes:
        hardware_ids: the hardware-id binding of every bin (patterns), or None.
    """

    __slots__ = (
        "bit_length",
        "hardware_ids",
        "name",
        "name_prefix",
        "number_of_bins",
        "suffix_len",
    )

    def __init__(self, data: Any) -> None:
        base = Role.from_dict(data, "succinct_roles")
        super().__init__(base.keyids, base.threshold)
        self.bit_length = _int(data.get("bit_length"), "succinct_roles bit_length", 1)
        if self.bit_length > MAX_BIT_LENGTH:
            # TAP 15 allows 32; bounded so no device lists or allocates 2^32 names.
            raise _fail(f"succinct_roles bit_length must be 1..{MAX_BIT_LENGTH}")
        self.name_prefix = _str(data.get("name_prefix"), "succinct_roles name_prefix")
        self.name = f"{self.name_prefix}-*"
        self.hardware_ids = _hardware_binding(data, "succinct_roles")
        self.number_of_bins = 2**self.bit_length
        self.suffix_len = len(f"{self.number_of_bins - 1:x}")

    def role_for_target(self, target_path: str) -> str:
        """The bin responsible for ``target_path``."""
        digest = sha256(target_path.encode("utf-8", "surrogatepass"))
        bin_number = int.from_bytes(digest[:4], "big") >> (32 - self.bit_length)
        return f"{self.name_prefix}-{bin_number:0{self.suffix_len}x}"

    def is_delegated_role(self, name: str) -> bool:
        """Whether ``name`` is one of the bins."""
        prefix = self.name_prefix + "-"
        if not name.startswith(prefix):
            return False
        suffix = name[len(prefix) :]
        if len(suffix) != self.suffix_len or not all(c in "0123456789abcdef" for c in suffix):
            return False
        return int(suffix, 16) < self.number_of_bins

    def all_roles(self) -> Iterator[str]:
        """Every bin name in order."""
        for i in range(self.number_of_bins):
            yield f"{self.name_prefix}-{i:0{self.suffix_len}x}"


Delegation = DelegatedRole | SuccinctRoles
"""A delegation entry: a named role, or the succinct hash bins (each bin shares it)."""


class Delegations:
    """The ``delegations`` object of targets metadata."""

    __slots__ = ("keys", "roles", "succinct")

    def __init__(self, data: Any) -> None:
        data = _dict(data, "delegations")
        self.keys = _parse_keys(data.get("keys"), "delegations")
        roles = data.get("roles")
        succinct = data.get("succinct_roles")
        if (roles is None) == (succinct is None):
            raise _fail("delegations need exactly one of roles, succinct_roles")
        self.roles: dict[str, DelegatedRole] | None = None
        self.succinct: SuccinctRoles | None = None
        if roles is not None:
            if not isinstance(roles, list):
                raise _fail("delegations roles must be a list")
            self.roles = {}
            for r in roles:
                role = DelegatedRole(r)
                if role.name in self.roles:
                    raise _fail(f"delegated role {role.name!r} listed twice")
                self.roles[role.name] = role
        else:
            self.succinct = SuccinctRoles(_dict(succinct, "succinct_roles"))

    def role(self, name: str) -> Role | None:
        """The key ids and threshold this delegator trusts for ``name``, or None."""
        if self.roles is not None:
            return self.roles.get(name)
        assert self.succinct is not None  # noqa: S101 - one of the two is set
        return self.succinct if self.succinct.is_delegated_role(name) else None

    def entries_for_target(self, target_path: str) -> Iterator[tuple[str, Delegation, bool]]:
        """(role name, delegation entry, terminating) of each role trusted for
        ``target_path``, in order."""
        if self.roles is not None:
            for role in self.roles.values():
                if role.is_delegated_path(target_path):
                    yield role.name, role, role.terminating
        else:
            assert self.succinct is not None  # noqa: S101 - one of the two is set
            # TAP 15: every bin is terminating.
            yield self.succinct.role_for_target(target_path), self.succinct, True

    def all_role_names(self) -> Iterator[str]:
        """Every delegated role name, in listed order."""
        if self.roles is not None:
            yield from self.roles
        else:
            assert self.succinct is not None  # noqa: S101 - one of the two is set
            yield from self.succinct.all_roles()


class Targets(Signed):
    """targets.json or a delegated targets role."""

    __slots__ = ("_cache", "delegations", "targets")
    type_name = "targets"

    def __init__(self, env: Envelope) -> None:
        super().__init__(env)
        signed = env.signed
        targets = _dict(signed.get("targets"), "targets")
        # Every entry is checked now (a malformed entry makes the whole metadata invalid,
        # as for python-tuf) but TargetFile objects are built only on lookup.
        for path, entry in targets.items():
            if type(entry) is not dict:
                raise _fail(f"target {path!r} must be an object")
            length = entry.get("length")
            hashes = entry.get("hashes")
            if type(length) is not int or length < 0 or type(hashes) is not dict or not hashes:
                raise TargetFile.error(path, entry)
            for digest in hashes.values():
                if type(digest) is not str:
                    raise TargetFile.error(path, entry)
            custom = entry.get("custom")
            if custom is not None and type(custom) is not dict:
                raise TargetFile.error(path, entry)
        self.targets: dict[str, Any] = targets
        self._cache: dict[str, TargetFile] = {}
        delegations = signed.get("delegations")
        self.delegations = None if delegations is None else Delegations(delegations)

    def get(self, path: str) -> TargetFile | None:
        """The target entry for ``path`` in this role, or None."""
        found = self._cache.get(path)
        if found is None:
            entry = self.targets.get(path)
            if entry is None:
                return None
            found = self._cache[path] = TargetFile(path, entry)
        return found

    def delegate(self, role_name: str) -> tuple[Role, dict[str, Key]]:
        """The threshold and keys this role trusts for its delegated ``role_name``.

        Raises:
            UnsignedMetadataError: ``role_name`` is not delegated by this role.
        """
        role = None if self.delegations is None else self.delegations.role(role_name)
        if role is None or self.delegations is None:
            raise UnsignedMetadataError(f"{role_name} is not delegated by this role")
        return role, self.delegations.keys

    def verify_delegate(self, role_name: str, other: Signed) -> None:
        """Raises UnsignedMetadataError unless ``other`` meets ``role_name``'s threshold."""
        _verify(other.envelope, *self.delegate(role_name), role_name)

    def load_delegate(self, role_name: str, cls: type[S], data: bytes) -> S:
        """``data`` parsed as ``cls`` once it meets ``role_name``'s threshold (:func:`load`).

        Raises:
            RepositoryError: malformed, not delegated, or not signed by a threshold of
                the delegation's keys.
        """
        return load(cls, data, *self.delegate(role_name), role_name)


def parse(cls: type[S], data: bytes) -> S:
    """Parse metadata of the given class (signatures not checked: see :func:`load`).

    A root in canonical layout keeps the exact bytes of its ``signed`` (its signatures
    are checked over them, by the old and the new root's keys).

    Raises:
        MetadataFormatError: malformed metadata.
    """
    split = split_envelope(data)
    if split is not None:
        signatures, start = split
        signed = parse_signed(decode(data), start)
        if signed is not None:
            kept = memoryview(data)[start:-1] if cls is Root else None
            env = Envelope(_dict(signed, "signed"), _signatures(signatures), None, kept)
            return _build(cls, env)
    return _build(cls, Envelope.from_bytes(data, cls.type_name))


def load(cls: type[S], data: bytes, role: Role, keys: dict[str, Key], what: str) -> S:
    """``data`` parsed as ``cls`` metadata once a threshold of ``role``'s ``keys`` signed it.

    Verify before parse (docs/adr/0014): when ``data`` is in canonical layout
    (canonical.split_envelope), only its signatures are parsed, the threshold is checked
    over the exact bytes of its ``signed`` part, and only then are those bytes parsed.
    Otherwise (a document in another layout, or whose signatures do not cover those
    bytes), :func:`load_reencoded`.

    Raises:
        MetadataFormatError: malformed metadata (a repeated key included).
        UnsignedMetadataError: fewer than ``role.threshold`` valid signatures.
        CryptoUnavailableError: a key's primitive cannot be loaded.
    """
    split = split_envelope(data)
    if split is not None:
        sigs, start = split
        signatures = _signatures(sigs)
        message = memoryview(data)[start:-1]
        try:
            verify_signatures(signatures, message, role, keys, what)
        except UnsignedMetadataError:
            pass  # perhaps signed in canonical form but written otherwise: re-encode
        else:
            signed = parse_signed(decode(data), start)
            if signed is not None:
                kept = message if cls is Root else None
                return _build(cls, Envelope(_dict(signed, "signed"), signatures, None, kept))
    return load_reencoded(cls, data, role, keys, what)


def load_reencoded(cls: type[S], data: bytes, role: Role, keys: dict[str, Key], what: str) -> S:
    """:func:`load` by the specification's definition: the whole document parsed, the
    threshold checked over the canonical re-encoding of ``signed``.

    Raises:
        MetadataFormatError: malformed metadata (a repeated key included).
        UnsignedMetadataError: fewer than ``role.threshold`` valid signatures.
        CryptoUnavailableError: a key's primitive cannot be loaded.
    """
    new = _build(cls, Envelope.from_bytes(data, cls.type_name))
    verify_signatures(new.envelope.signatures, new.envelope.signed_bytes(), role, keys, what)
    return new


def _verify(env: Envelope, role: Role, keys: dict[str, Key], what: str) -> None:
    # The exact bytes first when kept (no re-encoding), then the canonical form.
    if env.message is not None:
        try:
            verify_signatures(env.signatures, env.message, role, keys, what)
        except UnsignedMetadataError:
            pass
        else:
            return
    verify_signatures(env.signatures, env.signed_bytes(), role, keys, what)


def _build(cls: type[S], env: Envelope) -> S:
    _check_type(env.signed, cls.type_name)
    try:
        return cls(env)
    except MetadataFormatError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as e:
        raise MetadataFormatError(f"malformed {cls.type_name} metadata: {e}") from e
