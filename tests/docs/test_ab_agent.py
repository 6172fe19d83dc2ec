"""Issue 10 item 5: the reference A/B agent (docs/examples/ab_agent.py), run against
repositories the `firmtuf` CLI signed and published, served over HTTP on 127.0.0.1.

Scenarios: install and confirm; a failed boot rolls back and is not offered again; a
release withdrawn after staging is confirmed offline; two components on one trust store;
an offline USB bundle; a power cut between staging and arming the trial boot; backoff.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import verifier
from signer._demo import serve_directory
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image

AGENT_PATH = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ab_agent.py"


def _load_agent() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ab_agent", AGENT_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ab_agent"] = module
    spec.loader.exec_module(module)
    return module


ab = _load_agent()


class Release:
    """A repository the release team drives with the CLI, published to ``www``."""

    def __init__(self, cli: Cli, repo: Path, tmp: Path) -> None:
        self.cli, self.repo, self.tmp = cli, repo, tmp
        self.www = tmp / "www"
        self.images: dict[str, bytes] = {}

    def ship(self, hwid: str, version: str, counter: int = 0) -> bytes:
        image = make_image(self.tmp / "images" / hwid / version / "firmware.bin", 40_000)
        r = self.cli("add", self.repo, image, "--hardware-id", hwid, "--version", version,
                     "--security-counter", str(counter))  # fmt: skip
        assert r.exit_code == 0, r.output
        self.images[f"{hwid}/{version}"] = image.read_bytes()
        self.publish()
        return image.read_bytes()

    def withdraw(self, hwid: str, version: str) -> None:
        r = self.cli("remove", self.repo, f"{hwid}/{version}/firmware.bin")
        assert r.exit_code == 0, r.output
        self.publish()

    def publish(self) -> None:
        assert self.cli("sign", self.repo, "--password-env", PASSWORD_ENV).exit_code == 0
        r = self.cli("publish", self.repo, self.www)
        assert r.exit_code == 0, r.output

    @property
    def root(self) -> bytes:
        return (self.www / "metadata" / "1.root.json").read_bytes()


@pytest.fixture
def release(cli: Cli, repo: Path, tmp_path: Path) -> Release:
    return Release(cli, repo, tmp_path)


@pytest.fixture
def served(release: Release) -> Iterator[str]:
    release.www.mkdir()
    with serve_directory(release.www) as base:
        yield base


def agent(release: Release, base: str, device: Path, **components: str) -> object:
    return ab.Agent(
        device,
        components or {"acme-gw": "1.0.0"},
        release.root,
        base + "metadata/",
        base + "targets/",
    )


def slot_image(device: Path, hwid: str, slot: str) -> bytes:
    return (device / "slots" / hwid / slot / ab.IMAGE).read_bytes()


def env(device: Path, hwid: str = "acme-gw") -> dict[str, object]:
    return dict(ab.read_env(device)[hwid])


def test_install_then_confirm(release: Release, served: str, tmp_path: Path) -> None:
    new = release.ship("acme-gw", "1.1.0", counter=2)
    device = tmp_path / "device"
    a = agent(release, served, device)
    assert a.poll_once() == {"acme-gw": "reboot"}  # type: ignore[attr-defined]
    assert slot_image(device, "acme-gw", "b") == new
    assert env(device)["trial"] == "b"
    ab.bootloader(device)
    assert a.after_boot() == {"acme-gw": "confirmed"}  # type: ignore[attr-defined]
    assert env(device)["active"] == "b" and env(device)["trial"] is None
    policy = verifier.DevicePolicy.from_metadata_dir(device / "trust", "acme-gw", "1.0.0")
    assert policy == verifier.DevicePolicy("acme-gw", "1.1.0", 2)
    ab.bootloader(device)
    assert a.after_boot() == {"acme-gw": "running"}  # type: ignore[attr-defined]
    assert a.poll_once() == {"acme-gw": "up to date"}  # type: ignore[attr-defined]


def test_a_failed_boot_rolls_back_and_is_not_offered_again(
    release: Release, served: str, tmp_path: Path
) -> None:
    release.ship("acme-gw", "1.1.0")
    device = tmp_path / "device"
    a = agent(release, served, device)
    assert a.poll_once() == {"acme-gw": "reboot"}  # type: ignore[attr-defined]
    # The new image crashes before the agent ever runs: the bootloader tries, then falls back.
    for _ in range(ab.TRIES + 1):
        ab.bootloader(device)
    assert env(device)["booted"] == "a"
    assert a.after_boot() == {"acme-gw": "rolled back"}  # type: ignore[attr-defined]
    assert a.poll_once() == {"acme-gw": "up to date"}  # type: ignore[attr-defined]
    report = a.updater("acme-gw").check_report()  # type: ignore[attr-defined]
    assert [(r.target.path, r.reason) for r in report.refused] == [
        ("acme-gw/1.1.0/firmware.bin", verifier.RefusalReason.MARKED_FAILED)
    ]
    assert "did not boot from slot b" in report.refused[0].message
    # A fixed release is offered as usual.
    fixed = release.ship("acme-gw", "1.1.1")
    assert a.poll_once() == {"acme-gw": "reboot"}  # type: ignore[attr-defined]
    assert slot_image(device, "acme-gw", "b") == fixed


def test_a_failed_self_test_rolls_back_at_once(
    release: Release, served: str, tmp_path: Path
) -> None:
    release.ship("acme-gw", "1.1.0")
    device = tmp_path / "device"
    a = ab.Agent(device, {"acme-gw": "1.0.0"}, release.root, served + "metadata/",
                 served + "targets/", healthy=lambda hwid, slot: False)  # fmt: skip
    assert a.poll_once() == {"acme-gw": "reboot"}
    ab.bootloader(device)
    assert a.after_boot() == {"acme-gw": "rolled back"}
    assert env(device)["active"] == "a" and env(device)["booted"] == "a"
    assert a.poll_once() == {"acme-gw": "up to date"}


def test_a_withdrawn_release_is_confirmed_offline(
    release: Release, cli: Cli, repo: Path, tmp_path: Path
) -> None:
    release.www.mkdir()
    release.ship("acme-gw", "1.1.0", counter=1)
    device = tmp_path / "device"
    with serve_directory(release.www) as base:
        assert agent(release, base, device).poll_once() == {"acme-gw": "reboot"}  # type: ignore[attr-defined]
    release.withdraw("acme-gw", "1.1.0")  # and the server is gone too
    ab.bootloader(device)
    offline = agent(release, "http://127.0.0.1:9/", device)
    assert offline.after_boot() == {"acme-gw": "confirmed"}  # type: ignore[attr-defined]
    policy = verifier.DevicePolicy.from_metadata_dir(device / "trust", "acme-gw", "1.0.0")
    assert policy == verifier.DevicePolicy("acme-gw", "1.1.0", 1)


def test_two_components_share_one_trust_store(
    release: Release, served: str, tmp_path: Path
) -> None:
    gw = release.ship("acme-gw", "2.0.0", counter=3)
    mcu = release.ship("acme-mcu", "5.0.0", counter=7)
    device = tmp_path / "device"
    a = agent(release, served, device, **{"acme-gw": "1.0.0", "acme-mcu": "4.0.0"})
    assert a.poll_once() == {"acme-gw": "reboot", "acme-mcu": "reboot"}  # type: ignore[attr-defined]
    assert slot_image(device, "acme-gw", "b") == gw
    assert slot_image(device, "acme-mcu", "b") == mcu
    ab.bootloader(device)
    assert a.after_boot() == {"acme-gw": "confirmed", "acme-mcu": "confirmed"}  # type: ignore[attr-defined]
    trust = device / "trust"
    assert verifier.DevicePolicy.from_metadata_dir(trust, "acme-gw", "1") == (
        verifier.DevicePolicy("acme-gw", "2.0.0", 3)
    )
    assert verifier.DevicePolicy.from_metadata_dir(trust, "acme-mcu", "1") == (
        verifier.DevicePolicy("acme-mcu", "5.0.0", 7)
    )
    # A new gateway release: the MCU stays as it is.
    release.ship("acme-gw", "2.1.0", counter=3)
    assert a.poll_once() == {"acme-gw": "reboot", "acme-mcu": "up to date"}  # type: ignore[attr-defined]
    assert env(device)["trial"] == "a"  # the other slot this time


def test_an_offline_usb_bundle(release: Release, cli: Cli, tmp_path: Path) -> None:
    release.www.mkdir()
    new = release.ship("acme-gw", "1.1.0")
    bundle = tmp_path / "usb" / "update.tar"
    bundle.parent.mkdir()
    r = cli("bundle", release.www, bundle, "--target", "acme-gw/1.1.0/firmware.bin")
    assert r.exit_code == 0, r.output
    device = tmp_path / "device"
    a = ab.Agent(device, {"acme-gw": "1.0.0"}, release.root)  # no network at all
    assert a.install_bundle(bundle) == {"acme-gw": "reboot"}
    assert slot_image(device, "acme-gw", "b") == new
    ab.bootloader(device)
    assert a.after_boot() == {"acme-gw": "confirmed"}
    assert a.install_bundle(bundle) == {"acme-gw": "up to date"}


def test_a_power_cut_between_stage_and_arming_the_boot(
    release: Release, served: str, tmp_path: Path
) -> None:
    """The agent stages first and arms the trial boot second: a cut in between leaves a
    staged install the next boot arms (never a boot into an image nobody recorded)."""
    release.ship("acme-gw", "1.1.0")
    device = tmp_path / "device"
    a = agent(release, served, device)
    up = a.updater("acme-gw")  # type: ignore[attr-defined]
    target = up.check()
    slot = device / "slots" / "acme-gw" / "b"
    slot.mkdir(parents=True)
    up.stage(target, up.download(target, slot / ab.IMAGE))  # ... and the power goes
    ab.bootloader(device)
    assert a.after_boot() == {"acme-gw": "reboot"}  # type: ignore[attr-defined]
    ab.bootloader(device)
    assert a.after_boot() == {"acme-gw": "confirmed"}  # type: ignore[attr-defined]


def test_polling_backs_off_while_the_network_is_down(release: Release, tmp_path: Path) -> None:
    release.www.mkdir()
    release.ship("acme-gw", "1.1.0")
    a = agent(release, "http://127.0.0.1:9/", tmp_path / "device")
    sleeps: list[float] = []
    assert a.run(polls=4, interval=600, sleep=sleeps.append) is None  # type: ignore[attr-defined]
    assert len(sleeps) == 3  # between the four polls, none after the last
    assert all(b > a for a, b in itertools.pairwise(sleeps))  # doubling, jittered
    assert sleeps[0] <= 30 * 1.2 and sleeps[-1] <= 600 * 1.2


def test_a_full_disk_is_retried_at_the_next_poll(
    release: Release, served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No room for the image: the agent says so and polls again an interval later (it
    does not die); once there is room, the update goes on."""
    from verifier._internal import partial

    release.ship("acme-gw", "1.1.0")
    a = agent(release, served, tmp_path / "device")
    real = partial.free_space
    full = [True]
    monkeypatch.setattr(partial, "free_space", lambda d: 4096 if full[0] else real(d))
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        full[0] = False  # meanwhile, logs were rotated

    assert a.run(polls=3, interval=600, sleep=sleep) == {"acme-gw": "reboot"}  # type: ignore[attr-defined]
    assert sleeps == [600]


def test_the_example_runs_as_a_program(release: Release, served: str, tmp_path: Path) -> None:
    import json
    import subprocess

    release.ship("acme-gw", "1.1.0")
    root = tmp_path / "root.json"
    root.write_bytes(release.root)
    device = tmp_path / "device"
    base = [sys.executable, str(AGENT_PATH), "--device", str(device), "--root", str(root),
            "--metadata-url", served + "metadata/", "--targets-url", served + "targets/",
            "--component", "acme-gw=1.0.0"]  # fmt: skip

    def run(*args: str) -> object:
        out = subprocess.run([*base, *args], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    assert run("poll") == {"acme-gw": "reboot"}
    run("reboot")
    assert run("boot") == {"acme-gw": "confirmed"}
    assert run("poll") == {"acme-gw": "up to date"}
