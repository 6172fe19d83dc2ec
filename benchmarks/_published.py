"""Published cycle counts for the crypto a device does per update check, with sources.

Only figures that were found in a public source are listed; each row says where. Where no
figure could be sourced the row says so instead of guessing. Clock rates used for the
estimates are those of the board the figure was measured on, or marked "assumed".
"""

from __future__ import annotations

# op: "ed25519-verify" | "p256-verify" | "sha256" (cycles per byte) | "x25519" (related only)
PUBLISHED: list[dict[str, object]] = [
    {
        "chip": "Cortex-M4 (nRF52840, 64 MHz)",
        "class": "Cortex-M4/M33",
        "op": "p256-verify",
        "cycles": 976_000,
        "source": "Emill/P256-Cortex-M4 README, 'Performance' (nRF52840, ICACHE on, GCC -O2); "
        "the same library is tested on Cortex-M33 (nRF5340)",
    },
    {
        "chip": "Cortex-M4 (STM32F405, 168 MHz)",
        "class": "Cortex-M4/M33",
        "op": "sha256",
        "cycles_per_byte": 86.2,
        "source": "MicroPython forum 'sha256 and the cortex M4' (2015): C sha256 "
        "(crypto-algorithms) measured at 1950 KB/s on a 168 MHz pyboard; cycles/byte "
        "derived as 168e6 / 1.95e6",
    },
    {
        "chip": "Cortex-M4",
        "class": "Cortex-M4/M33",
        "op": "ed25519-verify",
        "cycles": None,
        "source": "not sourced: Fujii & Aranha, 'Curve25519 for the Cortex-M4 and beyond' "
        "(LATINCRYPT 2017) reports Ed25519 on the M4 but its table could not be read here; "
        "related: X25519 = 563,310 cycles on Cortex-M4 (doubleodd.group benchmarks page)",
    },
    {
        "chip": "Cortex-A8 (800 MHz)",
        "class": "Cortex-A7/A8",
        "op": "ed25519-verify",
        "cycles": 650_102,
        "source": "Bernstein & Schwabe, 'NEON crypto' (CHES 2012), abstract: verify a signature "
        "on a short message, NEON, one Cortex-A8 core",
    },
    {
        "chip": "Cortex-A8",
        "class": "Cortex-A7/A8",
        "op": "sha256",
        "cycles_per_byte": 15.4,
        "source": "OpenSSL crypto/sha/asm/sha256-armv4.pl header (integer code; NEON 12.5)",
    },
    {
        "chip": "Cortex-A8",
        "class": "Cortex-A7/A8",
        "op": "sha512",
        "cycles_per_byte": 23.3,
        "source": "OpenSSL crypto/sha/asm/sha512-armv4.pl header (as in Linux "
        "arch/arm/crypto/sha512-armv4.pl): NEON 23.3 cpb on Cortex-A8 (integer code ~38); "
        "Ed25519 hashes the whole signed message with SHA-512",
    },
    {
        "chip": "Cortex-A7",
        "class": "Cortex-A7/A8",
        "op": "p256-verify",
        "cycles": None,
        "source": "not sourced",
    },
    {
        "chip": "Cortex-A53 (1.2 GHz assumed)",
        "class": "Cortex-A53",
        "op": "sha256",
        "cycles_per_byte": 2.38,
        "source": "OpenSSL crypto/sha/asm/sha512-armv8.pl header: SHA256-hw 2.38 cpb with the "
        "ARMv8 SHA-2 instructions, 15.5 cpb without",
    },
    {
        "chip": "Cortex-A53 (1.2 GHz assumed)",
        "class": "Cortex-A53",
        "op": "sha256-no-ext",
        "cycles_per_byte": 15.5,
        "source": "OpenSSL crypto/sha/asm/sha512-armv8.pl header (software SHA-256)",
    },
    {
        "chip": "Cortex-A53 (1.2 GHz assumed)",
        "class": "Cortex-A53",
        "op": "sha512",
        "cycles_per_byte": 10.0,
        "source": "OpenSSL crypto/sha/asm/sha512-armv8.pl header: SHA512 10.0 cpb on Cortex-A53",
    },
    {
        "chip": "Cortex-A53",
        "class": "Cortex-A53",
        "op": "ed25519-verify",
        "cycles": None,
        "source": "not sourced",
    },
]

# Chips for the estimates: (label, clock Hz, class, signature op, message hash op, image
# hash op, runs CPython). Cortex-M parts cannot run CPython (nor the verifier): their rows
# are the verify primitives alone, what a C verifier there would compute. ECDSA P-256
# hashes the signed message with SHA-256; Ed25519 with SHA-512 (inside the verify).
ESTIMATE_CHIPS = [
    (
        "Cortex-M4 @ 64 MHz, ECDSA P-256 keys (a C verifier: primitives only)",
        64e6,
        "Cortex-M4/M33",
        "p256-verify",
        "sha256",
        "sha256",
        False,
    ),
    (
        "Cortex-A8 @ 800 MHz, Ed25519 keys",
        800e6,
        "Cortex-A7/A8",
        "ed25519-verify",
        "sha512",
        "sha256",
        True,
    ),
]

INSTRUCTIONS_PER_CYCLE = 1.0
"""ASSUMED (not sourced): the interpreter term counts this run's x86-64 instructions at one
per cycle of the embedded core. An in-order ARM core retires fewer per cycle, and an ARM
build needs a different number of instructions: treat it as an order of magnitude (the
armv7 emulation in benchmarks/armv7 measures guest instructions for real)."""


def figure(cls: str, op: str) -> float | None:
    for row in PUBLISHED:
        if row["class"] == cls and row["op"] == op:
            value = row.get("cycles", row.get("cycles_per_byte"))
            return None if value is None else float(value)  # type: ignore[arg-type]
    return None


def estimate(
    n_signatures: int, signed_bytes: int, image_bytes: int, instructions: int | None
) -> list[dict[str, object]]:
    """ESTIMATED seconds of one update check on the chips above.

    crypto = signatures x verify cycles + signed bytes x message-hash cycles/byte (the hash
    inside each verify) + image bytes x SHA-256 cycles/byte; interpreter = whole-process
    instructions / INSTRUCTIONS_PER_CYCLE (Linux-class cores only; None on Cortex-M). All
    divided by the clock. Excludes I/O and flash writes.
    """
    out: list[dict[str, object]] = []
    for label, hz, cls, sig_op, msg_op, img_op, cpython in ESTIMATE_CHIPS:
        verify = figure(cls, sig_op)
        msg = figure(cls, msg_op)
        img = figure(cls, img_op)
        if verify is None or msg is None or img is None:
            continue
        crypto = (n_signatures * verify + signed_bytes * msg + image_bytes * img) / hz
        interp = None
        if cpython:
            if instructions is None:
                continue
            interp = instructions / INSTRUCTIONS_PER_CYCLE / hz
        total = crypto + (interp or 0.0)
        out.append(
            {"chip": label, "crypto_s": crypto, "interpreter_s": interp, "estimated_s": total}
        )
    return out
