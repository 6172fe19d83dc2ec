"""The verifier on a 32-bit ARM Linux userland (armhf, emulated by qemu-user): see
benchmarks/armv7/__main__.py for the script and docs/benchmarks.md, "32-bit ARM"."""
