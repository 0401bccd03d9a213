#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Writes the seed corpus of test/fuzz/heap_fuzzer.cpp into test/fuzz/corpus/ (deterministic).

Each file is one input in the fuzzer's format (see the comment at the top of heap_fuzzer.cpp):
byte 0 picks the configuration (even: 8 KiB pages / 32 MiB, odd: 4 KiB pages / 16 MiB), then
operations. Run from anywhere: python3 tools/make_fuzz_corpus.py [OUT_DIR]
"""
import os
import random
import struct
import sys

KINDS = 5  # GC, Stack, Workbuf, GcBits (pre-seed), EndsOnly


def u64(v):
    return struct.pack("<Q", v & (2**64 - 1))


class Input:
    def __init__(self, config):
        self.b = bytearray([config])

    def alloc_small(self, kind, pages, zeroed=False):  # sel 0: 1..16 pages
        self.b += bytes([0x80 if zeroed else 0, kind, 0, (pages - 1) % 16])
        return self

    def alloc_mid(self, kind, pages, zeroed=False):  # sel 3: 1..2048 pages
        self.b += bytes([0x81 if zeroed else 1, kind, 3]) + struct.pack("<H", pages - 1)
        return self

    def alloc_absurd(self, kind, index):  # sel 6: the absurd-size table
        self.b += bytes([2, kind, 6, index])
        return self

    def alloc_raw(self, kind, pages):  # sel 7: any 64-bit size
        self.b += bytes([3, kind, 7]) + u64(pages)
        return self

    def free(self, index, via_free_at=False):
        self.b += bytes([0x84 if via_free_at else 4, index])
        return self

    def double_free(self, index):
        self.b += bytes([6, index])
        return self

    def free_at(self, kind, r):
        self.b += bytes([7, kind]) + u64(r)
        return self

    def free_wrongly(self, index, r):
        self.b += bytes([8, index]) + u64(r)
        return self

    def lookup(self, r):
        self.b += bytes([9]) + u64(r)
        return self

    def lookup_in(self, index, offset):
        self.b += bytes([10, index]) + struct.pack("<I", offset)
        return self

    def audit(self):
        self.b += bytes([11])
        return self

    def scavenge(self, pages):  # 255: everything
        self.b += bytes([12, pages])
        return self


def addr(mode, x):
    """An address selector for the driver's address(): mode 0..11, x the rest."""
    return (x << 4) | mode


def corpus():
    rnd = random.Random(20261127)
    out = {}
    for cfg in (0, 1):
        tag = "8k" if cfg == 0 else "4k"
        for kind in range(KINDS):
            i = Input(cfg)
            for n in (1, 2, 3, 7, 16):
                i.alloc_small(kind, n, zeroed=n % 2 == 0)
            i.alloc_mid(kind, 300).audit()
            for k in range(6):
                i.free(0, via_free_at=k % 2 == 1)
            out[f"fill-free-kind{kind}-{tag}"] = i
        i = Input(cfg)
        for idx in range(9):
            i.alloc_absurd(idx % KINDS, idx)
        i.alloc_raw(0, 2**64 - 1).alloc_raw(1, 2**63).alloc_raw(2, 0).alloc_raw(3, 1 << 20)
        out[f"absurd-sizes-{tag}"] = i
        i = Input(cfg)
        for k in range(12):
            i.alloc_mid(k % KINDS, 2048 if cfg == 0 else 1500)
        i.alloc_absurd(0, 6).alloc_absurd(0, 5).audit()
        for k in range(12):
            i.free(k)
        i.alloc_absurd(1, 6)
        out[f"exhaust-{tag}"] = i
        i = Input(cfg)
        i.alloc_small(0, 3).alloc_small(1, 4).alloc_small(2, 5).alloc_small(4, 6)
        i.free(1).free(0).free(1).free(0).audit().alloc_small(0, 16, zeroed=True)
        out[f"coalesce-{tag}"] = i
        i = Input(cfg)
        i.alloc_small(0, 2).alloc_small(4, 9).free(0).double_free(0).alloc_small(0, 2).double_free(0)
        i.free(0).free(0).double_free(0).double_free(1).double_free(2)
        out[f"double-free-{tag}"] = i
        i = Input(cfg)
        i.alloc_small(0, 4).alloc_small(1, 2).alloc_small(4, 12)
        for mode in range(12):
            i.free_at(mode % KINDS, addr(mode, rnd.getrandbits(56)))
        for k in range(6):
            i.free_wrongly(k % 3, rnd.getrandbits(64))
        out[f"free-at-misuse-{tag}"] = i
        i = Input(cfg)
        i.alloc_small(4, 16).alloc_small(0, 10).alloc_small(3, 5).free(1)
        for mode in range(12):
            i.lookup(addr(mode, rnd.getrandbits(56)))
        for k in range(8):
            i.lookup_in(k % 3, rnd.getrandbits(32))
        out[f"lookups-{tag}"] = i
        i = Input(cfg)
        for k in range(8):
            i.alloc_mid(k % KINDS, 40 + k)
        for k in range(0, 8, 2):
            i.free(k)
        i.scavenge(3).scavenge(255).audit()
        for k in range(6):
            i.alloc_small(k % KINDS, 16, zeroed=True)
        i.scavenge(255).alloc_mid(0, 400, zeroed=True)
        out[f"scavenge-zeroed-{tag}"] = i
        for n in range(8):
            i = Input(cfg)
            for _ in range(rnd.randint(40, 160)):
                r = rnd.random()
                if r < 0.45:
                    if rnd.random() < 0.8:
                        i.alloc_small(rnd.randrange(KINDS), rnd.randint(1, 16), rnd.random() < 0.2)
                    else:
                        i.alloc_mid(rnd.randrange(KINDS), rnd.randint(1, 600), rnd.random() < 0.2)
                elif r < 0.75:
                    i.free(rnd.randrange(256), rnd.random() < 0.5)
                elif r < 0.8:
                    i.double_free(rnd.randrange(256))
                elif r < 0.85:
                    i.free_at(rnd.randrange(KINDS), rnd.getrandbits(64))
                elif r < 0.9:
                    i.lookup(rnd.getrandbits(64))
                elif r < 0.95:
                    i.lookup_in(rnd.randrange(256), rnd.getrandbits(32))
                elif r < 0.98:
                    i.free_wrongly(rnd.randrange(256), rnd.getrandbits(64))
                else:
                    i.scavenge(rnd.choice([1, 16, 255]))
            out[f"random-{n}-{tag}"] = i
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    dest = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "test", "fuzz", "corpus")
    os.makedirs(dest, exist_ok=True)
    total = 0
    for name, inp in sorted(corpus().items()):
        with open(os.path.join(dest, name), "wb") as f:
            f.write(inp.b)
        total += len(inp.b)
    print(f"wrote {len(corpus())} inputs, {total} bytes, to {os.path.normpath(dest)}")


if __name__ == "__main__":
    main()
