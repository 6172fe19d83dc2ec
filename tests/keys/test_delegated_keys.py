"""Key commands on a delegated role: its keys live in the delegating targets metadata."""

from __future__ import annotations

from pathlib import Path

from tuf.api.metadata import DelegatedRole, Delegations, Metadata, Targets

from signer import FirmwareRepository
from signer._keys import static_secret
from tests.keys.conftest import PASSWORD_ENV, Cli, key_list, ngclient


def test_add_and_rotate_key_of_delegated_role(
    cli: Cli, repo: Path, password: str, tmp_path: Path
) -> None:
    r = FirmwareRepository(repo, secrets_handler=static_secret(password))
    with r.edit("targets") as targets:
        assert isinstance(targets, Targets)
        targets.delegations = Delegations(
            keys={}, roles={"vendor": DelegatedRole("vendor", [], 1, True, paths=["vendor/*"])}
        )
    r.save()

    added = cli("key", "add", repo, "vendor", "--password-env", PASSWORD_ENV)
    assert added.exit_code == 0, added.output
    assert "targets v" in added.output and "vendor v1: signed" in added.output
    (vendor_key,) = [k for k in key_list(cli, repo) if k["role"] == "vendor"]
    delegator = Metadata[Targets].from_file(str(repo / "metadata" / "targets.json")).signed
    assert delegator.delegations is not None
    assert delegator.delegations.roles["vendor"].keyids == [vendor_key["keyid"]]

    rotated = cli(
        "key", "rotate", repo, "vendor", vendor_key["keyid"], "--password-env", PASSWORD_ENV
    )
    assert rotated.exit_code == 0, rotated.output
    vendor = Metadata[Targets].from_file(str(repo / "metadata" / "vendor.json"))
    assert vendor.signed.version == 2
    assert vendor_key["keyid"] not in vendor.signatures

    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    out = tmp_path / "out"
    published = cli("publish", repo, out)
    assert published.exit_code == 0, published.output
    ngclient(out, tmp_path / "device").refresh()
    last = cli("key", "remove", repo, "vendor", next(iter(vendor.signatures)))
    assert last.exit_code == 7 and "cannot remove the last key of vendor" in last.stderr
