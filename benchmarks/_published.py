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
        "chip": "Cortex-A53",
        "class": "Cortex-A53",
        "op": "ed25519-verify",
        "cycles": None,
        "source": "not sourced",
    },
]

# Chips for the per-check estimate: (label, clock Hz, signature op, sha op).
ESTIMATE_CHIPS = [
    ("Cortex-M4 @ 64 MHz, ECDSA P-256 keys", 64e6, "p256-verify", ("Cortex-M4/M33", "sha256")),
    ("Cortex-A8 @ 800 MHz, Ed25519 keys", 800e6, "ed25519-verify", ("Cortex-A7/A8", "sha256")),
]


def figure(cls: str, op: str) -> float | None:
    for row in PUBLISHED:
        if row["class"] == cls and row["op"] == op:
            value = row.get("cycles", row.get("cycles_per_byte"))
            return None if value is None else float(value)  # type: ignore[arg-type]
    return None


def estimate(n_signatures: int, metadata_bytes: int, image_bytes: int) -> list[dict[str, object]]:
    """Estimated crypto-only seconds per update check on the chips above (ESTIMATES).

    seconds = (signatures x verify cycles + (metadata + image bytes) x SHA-256 cycles/byte)
    / clock. Excludes JSON parsing, I/O, flash writes and the interpreter: a floor, not a
    prediction.
    """
    out = []
    for label, hz, sig_op, (cls, sha_op) in ESTIMATE_CHIPS:
        sig_cls = "Cortex-M4/M33" if sig_op == "p256-verify" else "Cortex-A7/A8"
        verify = figure(sig_cls, sig_op)
        cpb = figure(cls, sha_op)
        if verify is None or cpb is None:
            continue
        seconds = (n_signatures * verify + (metadata_bytes + image_bytes) * cpb) / hz
        out.append({"chip": label, "estimated_s": seconds})
    return out
