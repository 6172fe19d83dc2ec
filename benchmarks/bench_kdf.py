"""Unlock cost of an encrypted key file: what a password guess costs an attacker.

    python -m benchmarks.bench_kdf [--rounds 16,32,48,64] [--repeat 5]

Times one unlock (load + decrypt) of an ed25519 key file: firmtuf's format (OpenSSH,
bcrypt-pbkdf) at several rounds, and the PKCS#8 files of older firmtuf versions (PBKDF2-
SHA256 at OpenSSL's default 2,048 iterations) for comparison. The best of ``--repeat``
runs is reported (what the CPU costs, not the noise of a shared machine). Figures go to
docs/key-management.md.
"""

from __future__ import annotations

import argparse
import time

from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
)

from signer._keyfile import DEFAULT_KDF_ROUNDS, dump_private_key, load_private_key

PASSWORD = "bench-password"  # noqa: S105 - throwaway key generated for the run


def unlock_seconds(pem: bytes, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        load_private_key(pem, PASSWORD, "bench")
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", default=f"1,16,32,{DEFAULT_KDF_ROUNDS},64")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    key = ed25519.Ed25519PrivateKey.generate()
    old = key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(PASSWORD.encode())
    )
    base = unlock_seconds(old, args.repeat)
    print("| key file format | unlock (s) | guesses per core-second | x old format |")
    print("|---|---:|---:|---:|")
    print(f"| PKCS#8, PBKDF2-SHA256 2,048 iterations (old) | {base:.4f} | {1 / base:,.0f} | 1 |")
    for rounds in (int(r) for r in args.rounds.split(",")):
        pem = dump_private_key(key, PASSWORD, rounds=rounds)
        seconds = unlock_seconds(pem, args.repeat)
        mark = " (default)" if rounds == DEFAULT_KDF_ROUNDS else ""
        print(
            f"| OpenSSH, bcrypt-pbkdf {rounds} rounds{mark} | {seconds:.4f} | "
            f"{1 / seconds:,.1f} | {seconds / base:,.0f} |"
        )


if __name__ == "__main__":
    main()
