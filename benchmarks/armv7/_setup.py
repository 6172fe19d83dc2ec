"""The emulated device: host tools, the armhf userland and the two clients installed in it.

Everything lands in one cache directory outside git (default /var/cache/firmtuf-armv7):

    tools/       qemu-arm-static (Debian qemu-user-static), qemu-arm + its two libraries
                 (Debian qemu-user: the build with TCG plugin support), debootstrap, and
                 insncount.so built from insncount.c; unpacked from .debs that
                 `apt-get download` fetched, never installed (installing qemu-user-static
                 can register binfmt_misc handlers host-wide; unpacking cannot)
    rootfs/      Debian armhf userland: `debootstrap --foreign` (first stage), then every
                 downloaded .deb unpacked with `dpkg-deb -x` (the second stage would run ARM
                 maintainer scripts, which needs binfmt_misc)
    wheels/      armv7l / pure wheels from `pip download --platform manylinux_2_31_armv7l
                 --only-binary=:all:`, pinned to the versions in the host's environment
    rootfs/opt/firmtuf-bench/site-{firmtuf,tuf}/
                 one install target per client: firmtuf (a wheel built from this checkout,
                 with its device dependencies, no `accel` extra) and python-tuf
                 (tuf + securesystemslib[crypto]); cffi's `_cffi_backend` comes from Debian's
                 armhf python3-cffi-backend (no armv7l wheel on PyPI)
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from benchmarks._util import PROJECT

HERE = Path(__file__).resolve().parent
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# python3-cffi-backend: cryptography's _cffi_backend (PyPI has no armv7l cffi wheel).
INCLUDE = ["python3", "python3-cffi-backend"]
PLATFORM = "manylinux_2_31_armv7l"
GUEST_PYTHON = "3.11"  # bookworm's python3; the wheels are chosen for it
# Debian packages whose files the harness needs (unpacked, not installed).
TOOL_DEBS = ["qemu-user-static", "qemu-user", "libcapstone4", "liburing2", "debootstrap"]
# Device-side requirement roots of each client, resolved against the host's installed
# versions. cffi/pycparser are replaced by Debian's _cffi_backend.
CLIENT_ROOTS = {"tuf": ["tuf", "securesystemslib[crypto]"]}
FROM_DEBIAN = {"cffi", "pycparser"}
SITE = Path("opt/firmtuf-bench")


class SetupError(Exception):
    """A prerequisite is missing or a setup step failed; the message says what to do."""


def default_cache() -> Path:
    env = os.environ.get("FIRMTUF_ARMV7_CACHE")
    if env:
        return Path(env)
    system = Path("/var/cache/firmtuf-armv7")
    if os.access(system.parent, os.W_OK) or os.access(system, os.W_OK):
        return system
    return Path.home() / ".cache" / "firmtuf-armv7"


@dataclass
class Tools:
    qemu_static: Path
    debootstrap: Path
    debootstrap_dir: Path | None  # DEBOOTSTRAP_DIR for an unpacked (not installed) copy
    qemu_plugin: Path | None  # qemu-arm with TCG plugin support, or None
    plugin_libs: Path | None  # LD_LIBRARY_PATH for it
    plugin_why_not: str = ""

    def plugin_env(self) -> dict[str, str]:
        return {"LD_LIBRARY_PATH": str(self.plugin_libs)} if self.plugin_libs else {}


def _which(name: str, extra: list[Path]) -> Path | None:
    for d in extra:
        if (d / name).is_file() and os.access(d / name, os.X_OK):
            return d / name
    found = shutil.which(name)
    return Path(found) if found else None


def find_tools(cache: Path) -> tuple[Tools | None, list[str]]:
    """The tools in cache/tools or on PATH; (None, what is missing) when some are absent."""
    unpacked = cache / "tools"
    bins = [unpacked / "usr" / "bin", unpacked / "usr" / "sbin"]
    qemu = _which("qemu-arm-static", bins)
    deboot = _which("debootstrap", bins)
    missing = []
    if qemu is None:
        missing.append("qemu-arm-static (Debian package qemu-user-static)")
    if deboot is None:
        missing.append("debootstrap (Debian package debootstrap)")
    if missing:
        return None, missing
    assert qemu is not None and deboot is not None
    deboot_dir = unpacked / "usr" / "share" / "debootstrap"
    tools = Tools(
        qemu_static=qemu,
        debootstrap=deboot,
        debootstrap_dir=deboot_dir if deboot.is_relative_to(unpacked) else None,
        qemu_plugin=None,
        plugin_libs=None,
    )
    _find_plugin_qemu(tools, unpacked, bins)
    return tools, []


def _find_plugin_qemu(tools: Tools, unpacked: Path, bins: list[Path]) -> None:
    qemu = _which("qemu-arm", bins)
    if qemu is None:
        tools.plugin_why_not = "qemu-arm (Debian qemu-user, the build with plugins) not found"
        return
    libs = unpacked / "usr" / "lib" / "x86_64-linux-gnu"
    env = dict(os.environ)
    if libs.is_dir():
        env["LD_LIBRARY_PATH"] = str(libs)
    proc = subprocess.run([str(qemu), "-h"], capture_output=True, text=True, env=env)
    if proc.returncode != 0 or "-plugin" not in proc.stdout:
        tools.plugin_why_not = f"{qemu} has no -plugin option (built without TCG plugins)"
        return
    tools.qemu_plugin = qemu
    tools.plugin_libs = libs if libs.is_dir() else None


def fetch_tools(cache: Path, log: object = print) -> None:
    """apt-get download the tool packages and unpack them into cache/tools (no install)."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise SetupError("--fetch-tools needs apt-get and dpkg-deb (a Debian host)")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    _log(log, f"  fetching {', '.join(TOOL_DEBS)} into {debs} (apt-get download; not installed)")
    proc = subprocess.run(
        ["apt-get", "download", *TOOL_DEBS], cwd=debs, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SetupError(f"apt-get download failed:\n{proc.stderr.strip()[-1500:]}")
    tmp = cache / "tools.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
    # Keep only what is used: qemu-user-static alone unpacks to ~300 MB of emulators.
    for b in (tmp / "usr" / "bin").iterdir():
        if b.name.startswith("qemu-") and b.name not in ("qemu-arm", "qemu-arm-static"):
            b.unlink()
    shutil.rmtree(tmp / "usr" / "share" / "doc", ignore_errors=True)
    shutil.rmtree(tmp / "usr" / "share" / "man", ignore_errors=True)
    shutil.rmtree(cache / "tools", ignore_errors=True)
    tmp.rename(cache / "tools")
    shutil.rmtree(debs)


def build_plugin(tools: Tools, cache: Path) -> Path | None:
    """insncount.so for tools.qemu_plugin (rebuilt when insncount.c changes); None if not."""
    if tools.qemu_plugin is None:
        return None
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        tools.plugin_why_not = "no C compiler to build the instruction-count plugin"
        return None
    src = HERE / "insncount.c"
    out = cache / "tools" / "insncount.so"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        flags = ["-O2", "-shared", "-fPIC", "-fvisibility=hidden"]
        proc = subprocess.run([gcc, *flags, "-o", str(out), str(src)], capture_output=True)
        if proc.returncode != 0:
            tools.plugin_why_not = f"building insncount.so failed: {proc.stderr.decode()[-500:]}"
            return None
    return out


def _log(log: object, msg: str) -> None:
    if callable(log):
        log(msg)


# -- the armhf userland ---------------------------------------------------------------


def rootfs_marker(rootfs: Path) -> Path:
    return rootfs / ".firmtuf-armv7.json"


def build_rootfs(
    tools: Tools, cache: Path, mirror: str = MIRROR, rebuild: bool = False, log: object = print
) -> Path:
    """The armhf userland in cache/rootfs, built once (again with rebuild=True)."""
    rootfs = cache / "rootfs"
    marker = rootfs_marker(rootfs)
    if marker.exists() and not rebuild:
        info = json.loads(marker.read_text())
        if info.get("suite") == SUITE and info.get("include") == INCLUDE:
            return rootfs
    if os.geteuid() != 0:
        raise SetupError("debootstrap needs root to build the armhf userland (run as root)")
    tmp = cache / "rootfs.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [str(tools.debootstrap), "--foreign", "--arch=armhf", "--variant=minbase"]
    cmd += [f"--include={','.join(INCLUDE)}"]
    keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    if keyring.exists():
        cmd += [f"--keyring={keyring}"]
    cmd += [SUITE, str(tmp), mirror]
    env = dict(os.environ)
    if tools.debootstrap_dir:
        env["DEBOOTSTRAP_DIR"] = str(tools.debootstrap_dir)
    _log(log, f"  {' '.join(cmd)}")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
        raise SetupError(f"debootstrap --foreign failed ({proc.returncode}):\n{tail}")
    archives = tmp / "var" / "cache" / "apt" / "archives"
    debs = sorted(archives.glob("*.deb"))
    # The first stage unpacked only the Required packages; the rest (python3 and what it
    # needs) were only downloaded.
    _log(log, f"  dpkg-deb -x {len(debs)} packages")
    packages = {}
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
        name, version = deb.name.split("_")[:2]
        packages[name] = version.replace("%3a", ":")
        deb.unlink()
    # qemu's -L redirects a guest path into the rootfs only when it exists there; these
    # would otherwise fall through to the host's (a host package must never be importable).
    for d in ("usr/local/lib/python3.11/dist-packages", "usr/local/lib/python3/dist-packages"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    if not (tmp / "usr" / "bin" / "python3").exists():
        raise SetupError("the armhf userland has no /usr/bin/python3 after unpacking")
    info = {"suite": SUITE, "mirror": mirror, "include": INCLUDE, "packages": packages}
    rootfs_marker(tmp).write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(rootfs, ignore_errors=True)
    tmp.rename(rootfs)
    return rootfs


def rootfs_packages(rootfs: Path) -> dict[str, str]:
    packages: dict[str, str] = json.loads(rootfs_marker(rootfs).read_text())["packages"]
    return packages


# -- the two clients in the userland -----------------------------------------------------


def _requirement_closure(roots: list[str]) -> dict[str, str]:
    """{distribution: host-installed version} of `roots` and what they require on the guest
    (markers evaluated for armv7l Linux, CPython 3.11), minus FROM_DEBIAN."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
    env.update(
        platform_machine="armv7l",
        python_version=GUEST_PYTHON,
        python_full_version=GUEST_PYTHON + ".2",
        sys_platform="linux",
        platform_system="Linux",
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    found: dict[str, str] = {}
    todo = [Requirement(r) for r in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if name in FROM_DEBIAN or key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError as e:
            raise SetupError(
                f"{req.name} is not installed on the host; the guest gets the host's versions "
                "(install the dev extras: pip install -e '.[dev]')"
            ) from e
        found[name] = dist.version
        for dep in dist.requires or []:
            dreq = Requirement(dep)
            wanted = dreq.marker is None or any(
                dreq.marker.evaluate({**env, "extra": x}) for x in ["", *sorted(req.extras)]
            )
            if wanted:
                dreq.marker = None
                todo.append(dreq)
    return found


def firmtuf_roots() -> list[str]:
    """firmtuf's device dependencies as its pyproject declares them (no extras)."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def _pip_platform_args() -> list[str]:
    return [
        "--only-binary=:all:",
        "--platform",
        PLATFORM,
        "--python-version",
        GUEST_PYTHON,
        "--implementation",
        "cp",
        "--abi",
        "cp311",
        "--abi",
        "abi3",
        "--abi",
        "none",
    ]


def install_clients(rootfs: Path, cache: Path, log: object = print) -> dict[str, dict[str, str]]:
    """(Re)install both clients into rootfs/opt/firmtuf-bench/site-<client>.

    Returns {client: {distribution: version}} of what each site holds.
    """
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    closures = {"firmtuf": _requirement_closure(firmtuf_roots())}
    closures.update({c: _requirement_closure(r) for c, r in CLIENT_ROOTS.items()})
    pins = sorted({f"{n}=={v}" for c in closures.values() for n, v in c.items()})
    _log(log, f"  pip download {len(pins)} wheels for {PLATFORM} into {wheels}")
    proc = subprocess.run(
        [*pip, "download", "-q", "--no-deps", "-d", str(wheels), *_pip_platform_args(), *pins],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SetupError(f"pip download for {PLATFORM} failed:\n{proc.stderr.strip()[-2000:]}")
    installed: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="firmtuf-wheel-") as tmp:
        # firmtuf as a device installs it: a wheel of this checkout (not the source tree).
        proc = subprocess.run(
            [*pip, "wheel", "-q", "--no-deps", "-w", tmp, str(PROJECT)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise SetupError(f"building the firmtuf wheel failed:\n{proc.stderr[-2000:]}")
        [firmtuf_wheel] = Path(tmp).glob("firmtuf-*.whl")
        # setuptools leaves build/ in the checkout; it is git-ignored but stale copies of
        # removed modules would go into the next wheel.
        shutil.rmtree(PROJECT / "build", ignore_errors=True)
        for client, closure in closures.items():
            site = rootfs / SITE / f"site-{client}"
            shutil.rmtree(site, ignore_errors=True)
            reqs = [f"{n}=={v}" for n, v in sorted(closure.items())]
            if client == "firmtuf":
                reqs.append(str(firmtuf_wheel))
            cmd = [*pip, "install", "-q", "--no-deps", "--no-index", "--find-links", str(wheels)]
            cmd += ["--target", str(site), *_pip_platform_args(), *reqs]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SetupError(f"installing {client} for the guest failed:\n{proc.stderr}")
            installed[client] = dict(closure)
            if client == "firmtuf":
                installed[client]["firmtuf"] = firmtuf_wheel.name.split("-")[1]
    return installed


def site_dir(rootfs: Path, client: str) -> Path:
    return rootfs / SITE / f"site-{client}"


def tree_bytes(path: Path) -> int:
    """Bytes of the files under `path` (what it takes on the device's flash, uncompressed)."""
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
    return total
