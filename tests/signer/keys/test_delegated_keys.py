"""Key commands on a delegated role: its keys live in the delegating targets metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuf.api.metadata import DelegatedRole, Delegations, Metadata, Targets

from signer import FirmwareRepository
from signer._keys import static_secret
from tests.signer.keys.conftest import (
    PASSWORD_ENV,
    Cli,
    firmtuf_client,
    key_list,
    make_image,
    ngclient,
)


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


def test_hash_bin_keys_are_listed_once_and_rotated_for_every_bin(
    cli: Cli, tmp_path: Path, password: str, monkeypatch: Any
) -> None:
    """All bins of a succinct delegation share keys: `key` commands take the group's name
    prefix (or any bin's name), and a rotation re-signs every bin; a device that updated
    before the rotation accepts the repository after it."""
    monkeypatch.setenv(PASSWORD_ENV, password)
    repo, out = tmp_path / "repo", tmp_path / "out"
    assert cli("init", repo, "--bins", "4", "--password-env", PASSWORD_ENV).exit_code == 0
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "h", "--version", "1").exit_code == 0
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    assert cli("publish", repo, out).exit_code == 0, "first publish"
    device = firmtuf_client(out, tmp_path / "device")
    device.refresh()
    assert device.get_targetinfo("h/1/fw.bin") is not None

    def bin_md(i: int) -> Metadata[Targets]:
        return Metadata[Targets].from_file(str(repo / "metadata" / f"bins-{i}.json"))

    versions = [bin_md(i).signed.version for i in range(4)]
    [bins_key] = [k for k in key_list(cli, repo) if k["role"] == "bins"]
    assert not any(k["role"].startswith("bins-") for k in key_list(cli, repo))
    rotated = cli("key", "rotate", repo, "bins-2", bins_key["keyid"][:12], "--password-env",
                  PASSWORD_ENV)  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    [new_key] = [k for k in key_list(cli, repo) if k["role"] == "bins"]
    assert new_key["keyid"] != bins_key["keyid"]
    assert (repo / "keys" / f"bins-{new_key['keyid'][:12]}.pem").is_file()
    for i in range(4):  # every bin re-issued as a newer version for devices holding it
        assert list(bin_md(i).signatures) == [new_key["keyid"]]
        assert bin_md(i).signed.version == versions[i] + 1

    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    published = cli("publish", repo, out)
    assert published.exit_code == 0, published.output
    device = firmtuf_client(out, tmp_path / "device")
    device.refresh()
    assert device.get_targetinfo("h/1/fw.bin") is not None

    unknown = cli("key", "add", repo, "bins-9", "--password-env", PASSWORD_ENV)
    assert unknown.exit_code == 3
    assert "unknown role 'bins-9'" in unknown.stderr and ", bins)" in unknown.stderr
    last = cli("key", "remove", repo, "bins", new_key["keyid"][:12])
    assert last.exit_code == 7 and "cannot remove the last key of bins" in last.stderr


def test_hash_bins_with_threshold_two_are_signed_in_a_signing_event(
    cli: Cli, tmp_path: Path, password: str, monkeypatch: Any
) -> None:
    """A second bin key held elsewhere (a CI variable here): every bin waits for it, one
    signing event collects its signature on all bins, and the result publishes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from signer._client import verify_published

    holder = ed25519.Ed25519PrivateKey.generate()
    private_pem = holder.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = tmp_path / "holder.pub.pem"
    public_pem.write_bytes(
        holder.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    repo, out = tmp_path / "repo", tmp_path / "out"
    pw = ("--password-env", PASSWORD_ENV)
    assert cli("init", repo, "--bins", "4", *pw).exit_code == 0
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "h", "--version", "1").exit_code == 0
    assert cli("sign", repo, *pw).exit_code == 0

    monkeypatch.delenv("BIN_HOLDER_KEY", raising=False)
    added = cli("key", "add", repo, "bins", "--uri", "envvar:BIN_HOLDER_KEY",
                "--public-key", public_pem, "--threshold", "2", *pw)  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.output.count("1/2 signatures, needs 1 more") == 4
    assert cli("publish", repo, out).exit_code == 8  # not publishable while bins wait

    assert cli("sign-event", "start", repo, "bins-key").exit_code == 0
    monkeypatch.setenv("BIN_HOLDER_KEY", private_pem)
    signed = cli("sign-event", "sign", repo, "bins-key", "--uri", "envvar:BIN_HOLDER_KEY")
    assert signed.exit_code == 0, signed.output
    assert signed.output.count("threshold 2, needs 0 more") == 4
    assert cli("sign-event", "finish", repo, "bins-key").exit_code == 0
    monkeypatch.delenv("BIN_HOLDER_KEY")
    assert cli("sign", repo, *pw).exit_code == 0
    published = cli("publish", repo, out)
    assert published.exit_code == 0, published.output
    report = verify_published(str(out), (out / "metadata" / "1.root.json").read_bytes())
    assert report.targets == {"h/1/fw.bin": image.stat().st_size}
