"""The `firmtuf` command line: one module per command, each a thin layer over ``signer``."""

from __future__ import annotations

import logging

import click

from signer.cli._common import FirmtufGroup
from signer.cli._config import config_option
from signer.cli._locking import lock_wait_option
from signer.cli.add import add
from signer.cli.bins import bins
from signer.cli.bundle import bundle
from signer.cli.delegate import delegate
from signer.cli.demo import demo
from signer.cli.init import init
from signer.cli.key import key
from signer.cli.prune import prune
from signer.cli.publish import publish
from signer.cli.refresh import refresh
from signer.cli.remove import remove
from signer.cli.sbom import sbom
from signer.cli.sign import sign
from signer.cli.sign_event import sign_event_group
from signer.cli.status import status
from signer.cli.support import support
from signer.cli.verify import verify


@click.group(cls=FirmtufGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="firmtuf", prog_name="firmtuf", message="%(prog)s %(version)s")
@config_option
@lock_wait_option
def main() -> None:
    """firmtuf: sign, publish and check firmware update repositories (TUF).

    Exit codes: 0 ok, 1 unexpected or I/O error, 2 usage, 3 bad input, 4 not a
    repository / exists, 5 key problem (wrong password, missing key), 6 invalid metadata,
    7 conflict (duplicate, downgrade, unknown target, repository busy), 8 not
    publishable, 9 verification failed, 10 status needs attention, 11 signing event
    incomplete, 12 could not reach, 130 interrupted. See docs/cli.md.
    """


for _command in (init, add, remove, sign, publish, status, verify, demo):
    main.add_command(_command)
# key management and multi-party signing
main.add_command(key)
main.add_command(sign_event_group)

# Publishing helpers: remote stores, retention, offline bundles.
for _command in (prune, bundle):
    main.add_command(_command)

# Delegations and scale.
for _command in (delegate, bins, refresh):
    main.add_command(_command)

# Support periods and SBOMs.
main.add_command(support)
main.add_command(sbom)

# Errors reach the user as one line of ours; a signer backend logging the same failure
# (securesystemslib's AWS signer logs the raw response) would only repeat it as noise.
logging.getLogger("securesystemslib").addHandler(logging.NullHandler())

__all__ = ["main"]
