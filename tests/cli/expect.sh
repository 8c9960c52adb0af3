#!/usr/bin/env bash
# expect.sh ok|fail REGEX cmd...: runs cmd, checks its exit status (zero for ok, non-zero for
# fail, never a crash) and that its combined output matches REGEX (grep -E).
want=$1 regex=$2
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$want" = ok ] && [ $rc -ne 0 ]; then echo "expected success, got exit $rc"; exit 1; fi
if [ "$want" = fail ] && { [ $rc -eq 0 ] || [ $rc -ge 128 ]; }; then
    echo "expected a clean failure, got exit $rc"; exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq -- "$regex"; then echo "output does not match: $regex"; exit 1; fi
echo "1 passed, 0 failed"
