#!/bin/sh
# Runs a command that must fail cleanly on bad input: it must end within 60 s
# (no hang on a FIFO), exit with a code between 1 and 123 (not a crash, not a
# signal, not a timeout) and say why on stderr. Its output passes through.
#   %expect_error qcc run bad.qcc --prompt-ids 1 2>&1 | FileCheck ...
err=$(mktemp)
timeout 60 "$@" 2>"$err"
rc=$?
cat "$err" >&2
if [ "$rc" -lt 1 ] || [ "$rc" -gt 123 ]; then
  echo "expect-error: '$*' exited with $rc (wanted 1..123)" >&2
  rm -f "$err"
  exit 1
fi
if [ ! -s "$err" ]; then
  echo "expect-error: '$*' failed without a message" >&2
  rm -f "$err"
  exit 1
fi
rm -f "$err"
exit 0
