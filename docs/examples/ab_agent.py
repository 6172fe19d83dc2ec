"""A reference A/B update agent on firmtuf's verifier: an example to copy, not library API.

Stand-ins for the hardware: each component has two slot directories (the A and B
partitions), ``bootenv.json`` is the bootloader environment (what ``fw_setenv`` /
``fw_printenv`` change on U-Boot), and :func:`bootloader` is what happens at a reboot.
Everything that decides trust (metadata, images, versions, counters, the staged install,
rejected releases, partial downloads, the lock) is the verifier's; the agent only moves
images between slots and flips the boot environment. Walked through in
docs/device-guide.md ("A reference A/B agent").

    python docs/examples/ab_agent.py --device DIR --root ROOT.json \\
        --metadata-url URL --targets-url URL --component acme-gw=1.0.0 \\
        boot | poll | run | usb FILE | reboot
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import verifier

IMAGE = "firmware.bin"
OTHER = {"a": "b", "b": "a"}
TRIES = 3  # boots the bootloader gives a new image before it falls back


def read_env(device: Path) -> dict[str, dict[str, object]]:
    path = device / "bootenv.json"
    return json.loads(path.read_bytes()) if path.exists() else {}


def write_env(device: Path, env: dict[str, dict[str, object]]) -> None:
    verifier.atomic_write(device / "bootenv.json", json.dumps(env, sort_keys=True).encode())


def bootloader(device: Path) -> None:
    """A reboot, as the bootloader sees it: a new image gets TRIES boots to be confirmed,
    then the bootloader falls back to the slot that ran before (and says so)."""
    env = read_env(device)
    for slots in env.values():
        trial, tries = slots.get("trial"), int(slots.get("tries", 0))  # type: ignore[call-overload]
        if trial is not None and tries > 0:
            slots.update(booted=trial, tries=tries - 1)
        elif trial is not None:
            slots.update(booted=slots["active"], trial=None, fell_back_from=trial)
        else:
            slots["booted"] = slots["active"]
    write_env(device, env)


class Agent:
    """Updates every component of one device; all share one trust store.

    Args:
        device: the device's writable storage (trust store, slots, boot environment).
        components: hardware id -> factory version of each component.
        root: the root.json shipped in the factory image.
        metadata_url, targets_url: the update repository.
        fetcher: the transport (default: HTTP).
        healthy: the new image's self-test, ``healthy(hardware_id, slot_dir)``.
    """

    def __init__(
        self,
        device: Path,
        components: dict[str, str],
        root: bytes,
        metadata_url: str = "",
        targets_url: str = "",
        *,
        fetcher: verifier.Fetcher | None = None,
        healthy: Callable[[str, Path], bool] = lambda hwid, slot: (slot / IMAGE).is_file(),
    ) -> None:
        self.device, self.components, self.root = device, components, root
        self.urls, self.fetcher, self.healthy = (metadata_url, targets_url), fetcher, healthy
        self.trust = device / "trust"
        env = read_env(device)
        for hwid in components:
            env.setdefault(hwid, {"active": "a", "trial": None, "tries": 0, "booted": "a"})
        write_env(device, env)

    def slot(self, hwid: str, name: object) -> Path:
        return self.device / "slots" / hwid / str(name)

    def policy(self, hwid: str) -> verifier.DevicePolicy:
        return verifier.DevicePolicy.from_metadata_dir(self.trust, hwid, self.components[hwid])

    def updater(self, hwid: str) -> verifier.Updater:
        return verifier.Updater(
            self.trust, *self.urls, fetcher=self.fetcher, policy=self.policy(hwid),
            bootstrap=self.root,
        )  # fmt: skip

    # -- after every boot ---------------------------------------------------------------

    def after_boot(self) -> dict[str, str]:
        """Confirm a new image that runs and is healthy; record one that did not boot."""
        env, done = read_env(self.device), {}
        for hwid in self.components:
            slots, up = env[hwid], self.updater(hwid)  # confirm needs no network
            pending, booted, trial = up.pending(), slots["booted"], slots.get("trial")
            if pending is None:
                if trial is not None and booted == trial:  # confirmed, then a power cut
                    slots.update(active=trial, trial=None, tries=0)
                done[hwid] = "running"
            elif "fell_back_from" in slots:  # the bootloader gave up on the new image
                up.mark_failed(reason=f"did not boot from slot {slots.pop('fell_back_from')}")
                done[hwid] = "rolled back"
            elif trial is None:  # staged, then a power cut before the trial was armed
                slots.update(trial=OTHER[str(slots["active"])], tries=TRIES)
                done[hwid] = "reboot"
            elif booted == trial and self.healthy(hwid, self.slot(hwid, trial)):
                up.confirm()
                slots.update(active=trial, trial=None, tries=0)
                done[hwid] = "confirmed"
            elif booted == trial:  # it boots but fails its self-test: roll back now
                up.mark_failed(reason="self-test failed")
                slots.update(trial=None, tries=0, booted=slots["active"])
                done[hwid] = "rolled back"
            else:
                done[hwid] = "waiting"
        write_env(self.device, env)
        return done

    # -- updates --------------------------------------------------------------------------

    def install(self, hwid: str, up: verifier.Updater) -> str:
        """Offer, download into the inactive slot, stage, arm the trial boot."""
        env = read_env(self.device)
        slots = env[hwid]
        if up.pending() is not None or slots.get("trial") is not None:
            return "reboot"  # an install waits for its boot
        target = up.check()
        if target is None:
            return "up to date"
        inactive = self.slot(hwid, OTHER[str(slots["active"])])
        inactive.mkdir(parents=True, exist_ok=True)
        image = up.download(target, inactive / IMAGE, progress=self.progress)
        up.stage(target, image)  # recorded first: the trial boot is armed second
        slots.update(trial=OTHER[str(slots["active"])], tries=TRIES)
        write_env(self.device, env)
        return "reboot"

    def poll_once(self) -> dict[str, str]:
        return {hwid: self.install(hwid, self.updater(hwid)) for hwid in self.components}

    def install_bundle(self, bundle: Path) -> dict[str, str]:
        """The same update from a USB stick (``firmtuf bundle``), with no network."""
        done = {}
        for hwid in self.components:
            with verifier.Updater.from_bundle(
                bundle, self.trust, policy=self.policy(hwid), bootstrap=self.root
            ) as up:
                done[hwid] = self.install(hwid, up)
        return done

    def run(
        self, polls: int, interval: float = 3600.0, sleep: Callable[[float], object] = time.sleep
    ) -> dict[str, str] | None:
        """Poll until an update needs a reboot; back off on trouble (network: doubling
        up to the interval; a repository refusing checks, or storage trouble such as a
        full disk or another agent holding the lock: the interval)."""
        delay, wait = 30.0, 0.0
        for _ in range(polls):
            if wait:
                sleep(wait)
            wait = interval
            try:
                outcome = self.poll_once()
            except verifier.DownloadError as e:
                wait = delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto
                delay = min(delay * 2, interval)
                print(f"network trouble, retry in {wait:.0f} s: {e}", file=sys.stderr)
                continue
            except verifier.RepositoryError as e:
                print(f"update refused, retry at the next poll: {e}", file=sys.stderr)
                continue
            except verifier.StorageError as e:  # a full disk (InsufficientSpaceError), locked
                print(f"storage trouble, retry at the next poll: {e}", file=sys.stderr)
                continue
            delay = 30.0
            if "reboot" in outcome.values():
                return outcome
        return None

    @staticmethod
    def progress(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{done * 100 // max(total, 1)}%", end=end, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", type=Path, required=True)
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--metadata-url", default="")
    p.add_argument("--targets-url", default="")
    p.add_argument("--component", action="append", required=True, help="HWID=FACTORY_VERSION")
    p.add_argument("command", choices=["boot", "poll", "run", "usb", "reboot"])
    p.add_argument("bundle", nargs="?", type=Path)
    args = p.parse_args(argv)
    components = dict(c.split("=", 1) for c in args.component)
    agent = Agent(args.device, components, args.root.read_bytes(), args.metadata_url,
                  args.targets_url)  # fmt: skip
    if args.command == "reboot":
        bootloader(args.device)
        result: object = read_env(args.device)
    elif args.command == "boot":
        result = agent.after_boot()
    elif args.command == "usb":
        result = agent.install_bundle(args.bundle)
    elif args.command == "poll":
        result = agent.poll_once()
    else:  # a daemon: poll every hour until an update needs the reboot
        result = agent.run(polls=sys.maxsize)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
