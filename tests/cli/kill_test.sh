#!/usr/bin/env bash
# kill_test.sh VKSAMED SRC DIR PYTHON [KILLS] — `vksamed train` killed with SIGKILL at random
# moments (issue #7): after every kill the last checkpoint (model.safetensors and
# state.safetensors) loads, and `--resume` continues; the killed-and-resumed run finally ends
# with the same log.csv (steps, epochs, learning rates, losses) and bit-identical weights as an
# uninterrupted run. The delays come from a fixed seed (reproducible) and are printed.
set -u
vk=$1 src=$2 dir=$3 py=$4 kills=${5:-20}
cfg=$src/configs/brain.yaml
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
# 4 slices, batch 2: 2 steps per epoch, a checkpoint every epoch, 24 steps in all.
run() {
    exec "$vk" train "$cfg" train.batch=2 train.warmup=4 train.save_every=1 train.epochs=12 \
        'data.train=[{image: /usr/share/mricron/templates/ch2.nii.gz, label: /usr/share/mricron/templates/aal.nii.gz, slices: "60-63"}]' \
        "$@"
}
# Both checkpoint files parse completely (header, every tensor's bytes present).
check_ckpt() {
    "$py" - "$1/model.safetensors" "$1/state.safetensors" <<'PY'
import json, os, struct, sys
for path in sys.argv[1:]:
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    end = max(v["data_offsets"][1] for k, v in head.items() if k != "__metadata__")
    assert 8 + n + end == len(raw), f"{path}: {len(raw)} bytes, header says {8 + n + end}"
print(f"checkpoint at step {head['__metadata__']['step']}")  # the state (the last file)
PY
}
(run output=ref) > ref.log 2>&1 || { tail -3 ref.log; fail "uninterrupted run exited $?"; }

RANDOM=7
done_=0
for i in $(seq 1 "$kills"); do
    resume=()
    [ -f run/state.safetensors ] && resume=(--resume)
    delay=$(printf '0.%03d' $((RANDOM % 1000)))
    delay=$(awk -v d="$delay" -v k=$((RANDOM % 2)) 'BEGIN { print d + k }')
    # exec: $! is vksamed itself, so the kill reaches it (not a subshell around it).
    (run output=run "${resume[@]}") > "kill$i.log" 2>&1 &
    pid=$!
    # Every other kill lands during start-up; the rest once training runs (start-up takes
    # seconds on a loaded machine), so kills hit steps and checkpoint writes.
    if [ $((i % 2)) -eq 0 ]; then
        for _ in $(seq 600); do
            grep -q "^training " "kill$i.log" 2>/dev/null && break
            kill -0 $pid 2>/dev/null || break
            sleep 0.05
        done
    fi
    sleep "$delay"
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null; rc=$?
    if [ $rc -ne 137 ]; then
        # Finished or failed before the kill: only a clean finish is acceptable.
        [ $rc -eq 0 ] || { tail -3 "kill$i.log"; fail "run $i exited $rc (not killed)"; }
        echo "kill $i after ${delay}s: the run had already finished"
        done_=1
        break
    fi
    if [ -f run/state.safetensors ]; then
        msg=$(check_ckpt run) || fail "kill $i after ${delay}s: the checkpoint does not load"
        echo "kill $i after ${delay}s: $msg"
    else
        echo "kill $i after ${delay}s: no checkpoint yet"
    fi
done
if [ $done_ -eq 0 ]; then
    (run output=run --resume) > final.log 2>&1 || { tail -3 final.log; fail "final resume exited $?"; }
fi
# The same loss curve to the last digit, and the same weights.
cut -d, -f1-6 ref/log.csv > ref.cols && cut -d, -f1-6 run/log.csv > run.cols
[ "$(wc -l < ref.cols)" -eq 25 ] || fail "expected 24 steps + header in ref/log.csv"
cmp ref.cols run.cols || { diff ref.cols run.cols | head; fail "the resumed loss curve differs"; }
"$py" "$src/tests/cli/check_train_run.py" --same-weights ref/model.safetensors \
    run/model.safetensors || fail "the resumed weights differ"
ls run/*.tmp* 2>/dev/null && echo "note: temporary files of killed writes remain (never read)"
echo "PASS: $kills kills, the run resumed to the uninterrupted result"
