"""repo_template/: its files, its CI definitions, and its pipeline run locally, step by
step, as CI runs it (against the moto S3 server, with a device updating over HTTP)."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from signer._template import template_files
from signer.cli import main
from tests.shell import firmtuf_env, run_script
from tests.signer.publish._device import device_fetch

PASSWORD = "ci secret password"
ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "repo_template"


def _tree(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_packaged_template_is_repo_template(tmp_path: Path) -> None:
    """What `init --template` writes is repo_template/ byte for byte, scripts executable."""
    packaged = template_files()
    assert {rel: data for rel, (data, _) in packaged.items()} == _tree(TEMPLATE)
    executable = {rel for rel, (_, mode) in packaged.items() if mode & 0o111}
    assert executable == {
        p.relative_to(TEMPLATE).as_posix()
        for p in TEMPLATE.rglob("*")
        if p.is_file() and p.stat().st_mode & 0o111
    }
    assert {"ci/keys.sh", "ci/refresh.sh", "ci/release.sh"} <= executable


def test_package_data_patterns_cover_every_template_file() -> None:
    """setuptools globs package-data patterns (no dot files for `*`): a file the patterns
    miss would be absent from the wheel, and `init --template` incomplete."""
    import glob
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["signer"]
    shipped = {
        Path(found).relative_to(ROOT / "signer" / "repo_template").as_posix()
        for pattern in patterns
        if pattern.startswith("repo_template/")
        for found in glob.glob(str(ROOT / "signer" / pattern), recursive=True)
        if Path(found).is_file()
    }
    assert shipped == set(_tree(TEMPLATE))


def test_ci_definitions_only_call_the_ci_scripts() -> None:
    release = yaml.safe_load((TEMPLATE / ".github/workflows/firmtuf-release.yml").read_text())
    refresh = yaml.safe_load((TEMPLATE / ".github/workflows/firmtuf-refresh.yml").read_text())
    gitlab = yaml.safe_load((TEMPLATE / ".gitlab-ci.yml").read_text())
    # PyYAML reads the key `on` as True (YAML 1.1).
    assert "release" in release[True] and "workflow_dispatch" in release[True]
    assert refresh[True]["schedule"][0]["cron"]
    release_runs = [s.get("run", "") for s in release["jobs"]["release"]["steps"]]
    assert any(r.startswith("ci/release.sh ") for r in release_runs)
    refresh_runs = [s.get("run", "") for s in refresh["jobs"]["refresh"]["steps"]]
    assert "ci/refresh.sh" in refresh_runs
    for workflow, signing in ((release, "ci/release.sh "), (refresh, "ci/refresh.sh")):
        job = next(iter(workflow["jobs"].values()))
        assert "env" not in job  # secrets only where they are used
        for step in job["steps"]:
            uses = step.get("uses")
            if uses:  # third-party actions pinned by commit, never by a movable tag
                assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", uses), uses
            secrets = {k for k, v in step.get("env", {}).items() if "secrets." in str(v)}
            if str(step.get("run", "")).startswith(signing):
                assert {
                    "FIRMTUF_KEY_PASSWORD",
                    "FIRMTUF_ONLINE_KEYS",
                    "AWS_ACCESS_KEY_ID",
                } <= secrets
            else:
                assert not secrets, step
                assert "secrets." not in json.dumps(step)
        installs = [s for s in job["steps"] if s.get("run") == "ci/install.sh"]
        assert len(installs) == 1 and "pip install" not in json.dumps(job)
        assert workflow["concurrency"]["group"] == "firmtuf-repository"
    assert "ci/install.sh" in " ".join(gitlab["default"]["before_script"])
    assert "pip install" not in json.dumps(gitlab)
    assert any(line.startswith("ci/release.sh ") for line in gitlab["release"]["script"])
    assert gitlab["refresh"]["script"] == ["ci/refresh.sh"]
    assert gitlab["refresh"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    for script in ("keys.sh", "release.sh", "refresh.sh", "install.sh"):
        assert (TEMPLATE / "ci" / script).stat().st_mode & stat.S_IXUSR


def test_install_refuses_requirements_without_hashes(tmp_path: Path) -> None:
    """ci/install.sh installs only hash-pinned requirements (a squatted or swapped package
    cannot slip in); the shipped stub must be generated first."""
    project = tmp_path / "p"
    (project / "ci").mkdir(parents=True)
    install = (TEMPLATE / "ci" / "install.sh").read_text()
    (project / "ci" / "install.sh").write_text(install)
    (project / "ci" / "install.sh").chmod(0o755)
    (project / "ci" / "requirements.txt").write_text(
        (TEMPLATE / "ci" / "requirements.txt").read_text()
    )
    env = firmtuf_env(tmp_path / "bin")
    refused = run_script("ci/install.sh", project, env, code=1)
    assert "pins no hashes" in refused.stderr
    (project / "pinned.txt").write_text("firmtuf==0.1.0\n")
    env["FIRMTUF_REQUIREMENTS"] = "pinned.txt"
    assert "pins no hashes" in run_script("ci/install.sh", project, env, code=1).stderr


def test_template_config_is_valid_and_matches_signer_defaults(tmp_path: Path) -> None:
    from signer._repository import DEFAULT_EXPIRY
    from signer.cli._config import load_config

    defaults = load_config(TEMPLATE / "firmtuf.toml")
    assert defaults["publish"]["dest"].startswith("s3://")
    assert defaults["sign"]["password_env"] == "FIRMTUF_KEY_PASSWORD"
    assert defaults["refresh"] == {"password_env": "FIRMTUF_KEY_PASSWORD", "within": "12h"}
    days = {r: f"{r}={d.days}d" for r, d in DEFAULT_EXPIRY.items()}
    assert sorted(defaults["init"]["expiries"]) == sorted(days.values())


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[publsh]\nto = 'x'\n", "unknown section [publsh]"),
        ("[publish]\ntoo = 'x'\n", "unknown key publish.too"),
        ("[publish]\nkeep = 'ten'\n", "publish.keep has the wrong type"),
        ("[refresh]\nwithin = 12\n", "refresh.within has the wrong type"),
        ("[roles.admin]\nkeys = 1\n", "unknown role [roles.admin]"),
        ("[firmware]\nhardware_ids = []\n", "non-empty list"),
        ("[publish\n", "is not valid TOML"),
    ],
)
def test_bad_config_is_a_one_line_error(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "firmtuf.toml"
    config.write_text(toml)
    result = CliRunner().invoke(main, ["--config", str(config), "status", str(tmp_path)])
    assert result.exit_code == 3
    assert result.output.startswith("Error: config ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_init_template_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "firmtuf.toml").write_text("# mine\n")
    result = CliRunner().invoke(
        main,
        ["init", str(tmp_path / "repo"), "--template", "--password-env", "PW"],
        env={"PW": PASSWORD},
    )
    assert result.exit_code == 4
    assert "firmtuf.toml already exists" in result.output
    assert not (tmp_path / "repo").exists()
    assert (tmp_path / "firmtuf.toml").read_text() == "# mine\n"


class Pipeline:
    """Runs shell steps in the project directory as CI would (firmtuf on PATH)."""

    def __init__(self, project: Path, bin_dir: Path, env: dict[str, str]) -> None:
        self.project = project
        self.env = firmtuf_env(bin_dir, env)

    def run(self, script: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        return run_script(script, self.project, self.env, code)

    def fresh_checkout(self) -> None:
        """What CI starts from: the committed files only (no keys, no images)."""
        for ignored in ("repo/keys", "repo/targets"):
            subprocess.run(["rm", "-rf", str(self.project / ignored)], check=True)


@pytest.mark.s3
def test_template_pipeline_runs_locally_in_order(
    tmp_path: Path,
    s3_endpoint: str,
    bucket: str,
    s3_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path / "updates"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    env["FIRMTUF_KEY_PASSWORD"] = PASSWORD
    ci = Pipeline(project, tmp_path / "bin", env)

    # Set up (README): the template and the repository, then point it at the bucket.
    ci.run("firmtuf init repo --template --password-env FIRMTUF_KEY_PASSWORD")
    config = (project / "firmtuf.toml").read_text()
    config = config.replace('to = "s3://acme-firmware/gateway/prod"', f'to = "s3://{bucket}/gw"')
    config = config.replace(
        '# endpoint_url = "https://minio.example.com"', f'endpoint_url = "{s3_endpoint}"'
    )
    (project / "firmtuf.toml").write_text(config)
    readme = (project / "README.md").read_text()
    export_keys = next(line.strip() for line in readme.splitlines() if "tar -czf" in line)
    online = ci.run(export_keys).stdout
    ci.env["FIRMTUF_ONLINE_KEYS"] = online
    assert {p.name.split("-")[0] for p in (project / "repo/keys").glob("*.pem")} == {
        "root",
        "targets",
        "snapshot",
        "timestamp",
    }
    root = (project / "repo/metadata/root_history/1.root.json").read_bytes()

    # The CI steps, taken from the CI definitions themselves.
    github = yaml.safe_load((project / ".github/workflows/firmtuf-release.yml").read_text())
    github_release = next(
        s["run"] for s in github["jobs"]["release"]["steps"] if "ci/release.sh" in s.get("run", "")
    )
    gitlab = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    gitlab_release = next(line for line in gitlab["release"]["script"] if "ci/release.sh" in line)
    refresh_yml = yaml.safe_load((project / ".github/workflows/firmtuf-refresh.yml").read_text())
    github_refresh = next(
        s["run"]
        for s in refresh_yml["jobs"]["refresh"]["steps"]
        if "ci/" in s.get("run", "") and "install" not in s["run"]
    )
    assert github_refresh == "ci/refresh.sh" == gitlab["refresh"]["script"][0]

    # Release job (GitHub's step), from a fresh checkout: no keys, no images on disk.
    (project / "release").mkdir()
    (project / "release/gateway.bin").write_bytes(b"gateway 1.4.2")
    ci.fresh_checkout()
    ci.env.update(FIRMWARE_IMAGE="release/gateway.bin", FIRMWARE_VERSION="1.4.2")
    ci.run(github_release)
    assert not list((project / "repo/keys").glob("root-*"))  # the root key never reached CI
    base = f"{s3_endpoint}/{bucket}/gw"
    name = "acme-gw-r2/1.4.2/gateway.bin"
    assert device_fetch(base, root, tmp_path / "dev", name) == b"gateway 1.4.2"

    # The next release through GitLab's step, again from a fresh checkout.
    (project / "release/gateway.bin").write_bytes(b"gateway 1.5.0")
    ci.fresh_checkout()
    ci.env["VERSION"] = "1.5.0"
    ci.run(gitlab_release)
    assert device_fetch(base, root, tmp_path / "dev", "acme-gw-r2/1.5.0/gateway.bin") == (
        b"gateway 1.5.0"
    )

    # A release of several boards at once: one image per hardware id, one version.
    boards = project / "release-multi"
    boards.mkdir()
    (boards / "acme-gw-r2.bin").write_bytes(b"r2 1.6.0")
    (boards / "acme-gw-r3.bin").write_bytes(b"r3 1.6.0")
    ci.fresh_checkout()
    ci.run("ci/release.sh release-multi 1.6.0")
    for board in ("acme-gw-r2", "acme-gw-r3"):
        got = device_fetch(base, root, tmp_path / "dev", f"{board}/1.6.0/{board}.bin")
        assert got == f"{board[-2:]} 1.6.0".encode()

    # Scheduled job (the step both CI definitions run).
    def live_timestamp_version() -> int:
        obj = s3_client.get_object(Bucket=bucket, Key="gw/metadata/timestamp.json")
        return int(json.loads(obj["Body"].read())["signed"]["version"])

    # Nothing is due right after a release: no new versions for the fleet to fetch.
    before = live_timestamp_version()
    ci.fresh_checkout()
    ci.run(github_refresh)
    assert live_timestamp_version() == before
    # Once the timestamp (1 day) expires within [refresh] within, the job renews it;
    # a 2-day window stands in for "18 hours later".
    config = project / "firmtuf.toml"
    config.write_text(config.read_text().replace('within = "12h"', 'within = "2d"'))
    ci.fresh_checkout()
    ci.run(github_refresh)
    assert live_timestamp_version() == before + 1
    assert device_fetch(base, root, tmp_path / "dev", name) == b"gateway 1.4.2"

    # The status step fails the job (exit 10) while the timestamp (1 day) is still valid:
    # 20 hours later without a refresh, 4 hours are left, inside the 12h warning window.
    later = datetime.now(UTC) + timedelta(hours=20)
    monkeypatch.setattr("signer._status.utcnow", lambda: later.replace(microsecond=0))
    late = CliRunner().invoke(
        main, ["--config", str(project / "firmtuf.toml"), "status", str(project / "repo")]
    )
    assert late.exit_code == 10, late.output
    assert re.search(r"Error: timestamp: expires in [34] hours", late.output)
    monkeypatch.undo()

    # Retention: explicit, from the config's destination.
    pruned = ci.run("firmtuf prune --keep 1 --json")
    assert '"deleted"' in pruned.stdout
    assert device_fetch(base, root, tmp_path / "dev2", name) == b"gateway 1.4.2"


def test_template_readme_mentions_every_ci_script() -> None:
    readme = (TEMPLATE / "README.md").read_text()
    for script in ("ci/release.sh", "ci/refresh.sh", "ci/keys.sh", "firmtuf prune", "bundle"):
        assert script in readme


def test_base64_of_online_keys_round_trips(tmp_path: Path) -> None:
    """ci/keys.sh installs exactly the files of the secret into repo/keys."""
    keys = tmp_path / "src" / "keys"
    keys.mkdir(parents=True)
    (keys / "targets-abc.pem").write_text("PEM")
    tarball = subprocess.run(
        ["tar", "-czf", "-", "-C", str(tmp_path / "src"), "keys"], capture_output=True, check=True
    ).stdout
    project = tmp_path / "p"
    (project / "ci").mkdir(parents=True)
    (project / "ci/keys.sh").write_text((TEMPLATE / "ci/keys.sh").read_text())
    env = dict(os.environ, FIRMTUF_ONLINE_KEYS=base64.b64encode(tarball).decode())
    subprocess.run(["bash", str(project / "ci/keys.sh")], env=env, check=True)
    assert (project / "repo/keys/targets-abc.pem").read_text() == "PEM"
