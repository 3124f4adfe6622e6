#!/usr/bin/env python3
"""Corrupts one tensor of a qcc artifact in place, for the integrity tests.

  corrupt_artifact.py QCC ARTIFACT TENSOR data|scales flip|scale1e6

The byte ranges come from `qcc inspect --tensors` (which reads the index
without verifying the content). `flip` inverts one byte in the middle of the
range; `scale1e6` multiplies the first fp32 value of the range by 1e6.
"""
import re
import struct
import subprocess
import sys


def main():
    qcc, path, tensor, part, how = sys.argv[1:6]
    out = subprocess.run([qcc, "inspect", path, "--tensors"], check=True, capture_output=True, text=True).stdout
    raw = int(re.search(r"raw section .* at offset (\d+)", out).group(1))
    line = next(l for l in out.splitlines() if l.split() and l.split()[0] == tensor)
    m = re.search(part + r" \[(\d+), \+(\d+)\)", line)
    offset, size = raw + int(m.group(1)), int(m.group(2))
    with open(path, "r+b") as f:
        if how == "flip":
            f.seek(offset + size // 2)
            b = f.read(1)
            f.seek(offset + size // 2)
            f.write(bytes([b[0] ^ 0xFF]))
        elif how == "scale1e6":
            f.seek(offset)
            (v,) = struct.unpack("<f", f.read(4))
            f.seek(offset)
            f.write(struct.pack("<f", v * 1e6))
        else:
            sys.exit("unknown corruption " + how)


if __name__ == "__main__":
    main()
