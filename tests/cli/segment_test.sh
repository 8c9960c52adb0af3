#!/usr/bin/env bash
# segment_test.sh PYTHON ok|fail DIR REGEX VKSAMED ARGS... [--check CHECK_ARGS...]
# Runs `VKSAMED segment ARGS...` inside a fresh DIR (relative output names land there).
#   ok:   exit 0, output matches REGEX (grep -E), then PYTHON tests/cli/check_segment.py
#         CHECK_ARGS... (run in DIR) must pass.
#   fail: exit 1 or 2 (a clean failure, never a crash), output matches REGEX, and DIR is still
#         empty: nothing was written.
# Exits 77 (skipped) when a --checkpoint / --lora file is absent (the fixtures need
# python3-torch), unless its path starts with /nonexistent (a test of that error).
here=$(cd "$(dirname "$0")" && pwd)
python=$1 want=$2 dir=$3 regex=$4 vksamed=$5
shift 5
args=() check=() in_check=0 prev=
for a in "$@"; do
    if [ "$a" = --check ]; then in_check=1; continue; fi
    if [ $in_check = 1 ]; then check+=("$a"); continue; fi
    if { [ "$prev" = --checkpoint ] || [ "$prev" = --lora ]; } && [ ! -f "$a" ] &&
        [ "${a#/nonexistent}" = "$a" ]; then
        echo "skipped: $a missing (the fixture needs python3-torch)"; exit 77
    fi
    args+=("$a") prev=$a
done
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
out=$("$vksamed" segment "${args[@]}" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$want" = ok ] && [ $rc -ne 0 ]; then echo "expected success, got exit $rc"; exit 1; fi
if [ "$want" = fail ] && [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
    echo "expected exit 1 or 2, got $rc"; exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq -- "$regex"; then echo "output does not match: $regex"; exit 1; fi
if [ "$want" = fail ]; then
    left=$(ls -A)
    if [ -n "$left" ]; then echo "a failed run left files: $left"; exit 1; fi
    echo "1 passed, 0 failed"; exit 0
fi
[ ${#check[@]} -eq 0 ] || "$python" "$here/check_segment.py" "${check[@]}"
