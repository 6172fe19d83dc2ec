"""The seams issue 4 builds on: a delegated targets role (made here through the library,
no CLI yet) is signed, snapshotted, published and verified like the top-level one."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import DelegatedRole, Delegations, TargetFile

from signer import FirmwareRepository, publish, repository_status, verify_published
from signer._keys import Keyring, static_secret
from signer._targets import store_name


def test_delegated_role_is_signed_published_and_verified(
    signed_repo: Path, tmp_path: Path, password: str
) -> None:
    delegate = CryptoSigner.generate_ed25519()
    keyid = delegate.public_key.keyid
    ring = Keyring(signed_repo, static_secret(password), {keyid: delegate})
    repo = FirmwareRepository(signed_repo, keyring=ring)
    with repo.edit_targets() as targets:
        targets.delegations = Delegations(
            keys={keyid: delegate.public_key},
            roles={"acme": DelegatedRole("acme", [keyid], 1, True, paths=["acme/*/*"])},
        )
    data = b"delegated firmware"
    sha = hashlib.sha256(data).hexdigest()
    name = "acme/2.0/app.bin"
    (signed_repo / "targets" / store_name(sha, name)).write_bytes(data)
    with repo.edit_targets("acme") as acme:
        acme.targets[name] = TargetFile(
            len(data),
            {"sha256": sha},
            name,
            unrecognized_fields={
                "custom": {"firmtuf": {"hardware_ids": ["acme"], "version": "2.0"}}
            },
        )
    result = repo.sign()
    assert result.incomplete == {}
    repo.save()

    fresh = FirmwareRepository(signed_repo)
    assert fresh.targets_roles() == ["targets", "acme"]
    assert repository_status(fresh).ok
    out = tmp_path / "out"
    report = publish(fresh, out)
    assert "metadata/1.acme.json" in report.written
    assert report.written.index("metadata/1.acme.json") < report.written.index(
        "metadata/3.targets.json"
    )
    root = (out / "metadata" / "1.root.json").read_bytes()
    checked = verify_published(str(out), root)
    assert checked.versions["acme"] == 1
    assert set(checked.targets) == {"board-a/1.0.0/fw.bin", name}

    # a delegated target under a name outside the delegation's paths is caught
    shutil.rmtree(out)
    repo = FirmwareRepository(signed_repo, keyring=ring)
    with repo.edit_targets("acme") as acme:
        acme.targets["elsewhere/app.bin"] = acme.targets.pop(name)
        acme.targets["elsewhere/app.bin"].path = "elsewhere/app.bin"
    (signed_repo / "targets" / store_name(sha, "elsewhere/app.bin")).write_bytes(data)
    repo.sign()
    repo.save()
    import pytest

    from signer import PublishError

    with pytest.raises(PublishError, match="not what a client's delegation search finds"):
        publish(FirmwareRepository(signed_repo), out)
