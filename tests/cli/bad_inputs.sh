#!/usr/bin/env bash
# bad_inputs.sh VKSAMED SRC FIXDIR WORK [ID...] — runs rows of tests/cli/bad_inputs.tsv (all
# when no ID is given). Each row: id, expected exit status, an extended regex its stderr must
# match, and a bash command run in a fresh folder WORK/ID. The command sees $VK (the vksamed
# binary), $SRC (the source tree), $D (FIXDIR/data: tests/reference/craft_bad_inputs.py),
# $P (FIXDIR/pickles: tests/reference/craft_pickles.py) and $CK (the checkpoints fixture:
# tests/reference/make_checkpoints.py). The folder holds out/ with files already there
# (out/mask.png, out/run/config.yaml, out/run/keep.txt); rows aim their outputs at it, and it
# must be byte-identical afterwards: no file changed, added or removed.
# Prints one line per row; exits 1 when any row fails.
set -u
VK=$(realpath "$1") SRC=$(realpath "$2") FIX=$(realpath "$3") WORK=$(realpath -m "$4")
shift 4
export VK SRC D="$FIX/data" P="$FIX/pickles" CK="${VKSAMED_CKPT_DIR:-$(dirname "$FIX")/checkpoints}"
table="$SRC/tests/cli/bad_inputs.tsv"
snapshot() { (cd "$1" && find . -printf '%y %p %s\n' | LC_ALL=C sort &&
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum); }
failed=0 ran=0
while IFS=$'\t' read -r id want regex cmd; do
    case "$id" in '' | '#'*) continue ;; esac
    if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qxF -- "$id"; then continue; fi
    ran=$((ran + 1))
    w="$WORK/$id"
    rm -rf "$w" && mkdir -p "$w/out/run" || exit 1
    printf 'sentinel mask\n' >"$w/out/mask.png"
    printf 'sentinel config\n' >"$w/out/run/config.yaml"
    printf 'keep\n' >"$w/out/run/keep.txt"
    before=$(snapshot "$w/out")
    (cd "$w" && timeout 300 bash -c "$cmd") >"$w/stdout.txt" 2>"$w/stderr.txt"
    rc=$?
    why=""
    if [ "$rc" -ne "$want" ]; then
        why="exit $rc, expected $want"
    elif ! grep -Eq -- "$regex" "$w/stderr.txt"; then
        why="stderr does not match: $regex"
    elif [ "$(snapshot "$w/out")" != "$before" ]; then
        why="out/ changed: $(diff <(echo "$before") <(snapshot "$w/out") | grep '^[<>]' | head -3)"
    fi
    if [ -n "$why" ]; then
        failed=$((failed + 1))
        echo "FAIL $id: $why"
        echo "  command: $cmd"
        sed 's/^/  stderr: /' "$w/stderr.txt" | head -5
    else
        echo "ok   $id: $(head -c 300 "$w/stderr.txt" | tr '\n' ' ')"
    fi
done <"$table"
[ "$ran" -gt 0 ] || { echo "no row matches: $*"; exit 1; }
echo "$((ran - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
