"""The `firmtuf` command line: one module per command, each a thin layer over ``signer``."""

from __future__ import annotations

import click

from signer.cli._common import FirmtufGroup
from signer.cli._config import config_option
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
from signer.cli.sign import sign
from signer.cli.sign_event import sign_event_group
from signer.cli.status import status
from signer.cli.verify import verify


@click.group(cls=FirmtufGroup, context_settings={"help_option_names": ["-h", "--help"]})
@config_option
def main() -> None:
    """firmtuf: sign, publish and check firmware update repositories (TUF).

    Exit codes: 0 ok, 1 unexpected or I/O error, 2 usage, 3 bad input, 4 not a
    repository / exists, 5 key problem (wrong password, missing key), 6 invalid metadata,
    7 conflict (duplicate, downgrade, unknown target), 8 not publishable, 9 verification
    failed, 10 status needs attention, 11 signing event incomplete. See docs/cli.md.
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

__all__ = ["main"]
