"""A `firmtuf` process that runs many commands: one JSON line in (argv), one JSON line out.

The concurrency tests start several of these (real processes, so the repository lock is
really contended) and send each a command at the same instant; importing the signer
once per worker instead of once per command keeps hundreds of trials cheap.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

from signer.cli import main


def run(argv: list[str]) -> dict[str, object]:
    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main.main(args=argv, prog_name="firmtuf", standalone_mode=True)
        except SystemExit as e:
            code = e.code if e.code is not None else 0
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}


def serve() -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(run(json.loads(line))), flush=True)


if __name__ == "__main__":
    serve()
