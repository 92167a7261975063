"""Moticon live UDP on the bridge: cost of decoding and batching one datagram (both insoles).

Run: .venv/bin/python benchmarks/bench_moticon_udp.py
"""

from __future__ import annotations

import time

from calfload.bridge.devices import moticon_udp
from calfload.bridge.moticon_source import MoticonUdpSource, MoticonUdpSpec
from calfload.bridge.virtual.moticon_udp_sender import simulated_samples

N = 60_000  # ten minutes at 100 Hz


def main() -> None:
    datagrams = [moticon_udp.encode(s) for s in simulated_samples(N)]
    started = time.perf_counter()
    for d in datagrams:
        moticon_udp.decode(d)
    decode_s = time.perf_counter() - started

    source = MoticonUdpSource(MoticonUdpSpec("a1", {"left": "L", "right": "R"}, port=0))
    started = time.perf_counter()
    batches = 0
    for k, d in enumerate(datagrams):
        batches += len(source.process(k / 100, d))
    process_s = time.perf_counter() - started
    per_us = 1e6 * process_s / N
    print(f"{N} datagrams ({len(datagrams[0])} bytes each, 51 values)")
    print(f"decode only:           {1e6 * decode_s / N:6.1f} µs per datagram")
    print(f"decode + batch (both): {per_us:6.1f} µs per datagram, {batches} batches")
    print(f"at 100 Hz: {per_us * 100 / 1e4:.2f} % of one core for a pair of insoles")


if __name__ == "__main__":
    main()
