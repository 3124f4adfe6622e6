#!/usr/bin/env bash
# Builds qcc and runs every test: GoogleTest suites through ctest, then the lit
# suites. Exits non-zero on any failure and ends with "N passed, N failed".
#   scripts/test.sh            # uses ./build
#   BUILD_DIR=/tmp/b scripts/test.sh
#   QCC_SANITIZE=1 BUILD_DIR=build-asan scripts/test.sh   # AddressSanitizer + UBSan build
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
jobs="${JOBS:-$(nproc)}"

bash "$root/scripts/setup.sh" || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

start=$(date +%s)
sanitize=OFF
[ "${QCC_SANITIZE:-0}" = 1 ] && sanitize=ON
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQCC_SANITIZE=$sanitize >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log"; echo "configure failed"; echo "0 passed, 1 failed"; exit 1; }
if ! ninja -C "$build" -j "$jobs"; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi
echo "build: $(( $(date +%s) - start )) s"

# GoogleTest executables (ctest label `gpu` ones skip cleanly without a device).
# Each writes an XML report, so the summary can count individual tests.
ctest_log="$build/ctest.log"
rm -rf "$build/gtest-xml" && mkdir -p "$build/gtest-xml"
(cd "$build" && GTEST_OUTPUT="xml:$build/gtest-xml/" ctest --output-on-failure -j "$jobs" 2>&1) | tee "$ctest_log"
ctest_total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$ctest_log" | tail -1)
ctest_failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$ctest_log" | tail -1)
ctest_total=${ctest_total:-0}; ctest_failed=${ctest_failed:-0}
if grep -q "No tests were found" "$ctest_log"; then ctest_total=0; ctest_failed=0; fi

# lit suites (FileCheck tests of qcc-opt passes and the qcc CLI).
lit_log="$build/lit.log"
/usr/lib/llvm-22/bin/lit -sv "$build/test" 2>&1 | tee "$lit_log"
lit_rc=${PIPESTATUS[0]}
lit_passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$lit_log" | tail -1)
lit_failed=$(grep -E '^ *(Failed|Unresolved|Timed Out|Unexpectedly Passed) *:' "$lit_log" \
  | awk -F: '{ n += $2 } END { print n + 0 }')
lit_passed=${lit_passed:-0}; lit_failed=${lit_failed:-0}
if [ "$lit_rc" -ne 0 ] && [ "$lit_failed" -eq 0 ]; then lit_failed=1; fi

# The runtime alone (QCC_BUILD_COMPILER=OFF, with MLIR deliberately not
# findable): it must configure, build, pass its own unit tests, and its
# qcc-run must print what the full build's qcc run prints for one artifact.
rt_build="$build-runtime"
rt_failed=0
rm -rf "$build/gtest-xml-runtime" && mkdir -p "$build/gtest-xml-runtime"
if cmake -S "$root" -B "$rt_build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQCC_BUILD_COMPILER=OFF \
     -DMLIR_DIR=/nonexistent -DLLVM_DIR=/nonexistent >"$rt_build.configure.log" 2>&1 \
   && ninja -C "$rt_build" -j "$jobs" >"$rt_build.build.log" 2>&1; then
  (cd "$rt_build" && GTEST_OUTPUT="xml:$build/gtest-xml-runtime/" ctest -j "$jobs" 2>&1) | tee "$rt_build.ctest.log" \
    | tail -3
  grep -q "100% tests passed" "$rt_build.ctest.log" || rt_failed=1
  rt_tmp=$(mktemp -d)
  if "$build/bin/qcc" compile "$root/../shared/models/stories260K" --format int8 --no-kernels -o "$rt_tmp/m.qcc" --quiet \
     && "$build/bin/qcc" run "$rt_tmp/m.qcc" --prompt-ids "1 403 407" -n 12 --device cpu --ignore-eos >"$rt_tmp/a" \
     && "$rt_build/bin/qcc-run" "$rt_tmp/m.qcc" --prompt-ids "1 403 407" -n 12 --device cpu --ignore-eos >"$rt_tmp/b" \
     && cmp -s "$rt_tmp/a" "$rt_tmp/b"; then
    echo "runtime-only build: qcc-run matches qcc run"
  else
    echo "runtime-only build: qcc-run differs from qcc run"; rt_failed=1
  fi
  rm -rf "$rt_tmp"
else
  echo "runtime-only build failed (logs: $rt_build.configure.log, $rt_build.build.log)"; rt_failed=1
fi

# Individual GoogleTest cases from the XML reports: run, failed, skipped.
read -r gt_run gt_failed gt_skipped < <(python3 - "$build/gtest-xml" "$build/gtest-xml-runtime" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
run = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.xml") + glob.glob(sys.argv[2] + "/*.xml"):
    for case in ET.parse(f).getroot().iter("testcase"):
        if case.get("status") == "notrun":
            continue
        run += 1
        if case.find("failure") is not None:
            failed += 1
        elif case.find("skipped") is not None or case.get("result") == "skipped":
            skipped += 1
print(run, failed, skipped)
PY
)
gt_run=${gt_run:-0}; gt_failed=${gt_failed:-0}; gt_skipped=${gt_skipped:-0}
# A crashed executable writes no report: count it as one failure.
unit_failed=$(( gt_failed > ctest_failed ? gt_failed : ctest_failed ))

passed=$(( gt_run - gt_failed - gt_skipped + lit_passed + (1 - rt_failed) ))
failed=$(( unit_failed + lit_failed + rt_failed ))
echo "ctest: $(( ctest_total - ctest_failed )) of $ctest_total executables passed"
echo "googletest: $gt_run tests, $gt_failed failed, $gt_skipped skipped (GPU tests skip without a device)"
echo "lit: $lit_passed passed, $lit_failed failed"
echo "runtime-only build: $([ "$rt_failed" -eq 0 ] && echo passed || echo FAILED)"
echo "total time: $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed, $gt_skipped skipped"
[ "$failed" -eq 0 ]
