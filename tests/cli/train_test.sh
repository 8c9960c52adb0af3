#!/usr/bin/env bash
# train_test.sh CASE VKSAMED SRC DIR [PYTHON] — `vksamed train` / `vksamed eval` end to end on the
# built-in brain task (DATA.md; real MRI from mricron-data), shortened to a few steps.
#   main:    the main job in small: train (batch 4, 1 epoch), eval; every output file exists and
#            is well-formed (tests/cli/check_train_run.py), and the loss went down.
#   resume:  2 epochs straight vs 1 epoch then --resume to 2: log.csv identical in every column
#            but the timing ones, and identical final weights.
#   lora:    a SAMed LoRA run from a tiny SAM checkpoint (the parity fixture), its .pth export
#            loaded back by `vksamed eval` and `vksamed segment --lora`; then the same as
#            SAMed_s (finetune lora_decoder), its export checked and evaluated.
#   nan:     a NaN loss (injected): train.nan stop ends the run naming the step; skip drops the
#            batch with the weights untouched (equal to a run without that step).
#   faults:  Vulkan faults by injection: device lost in train and segment, out of device memory.
#   errors:  bad configs and overrides fail cleanly, naming the key, and write nothing.
set -u
case=$1 vk=$2 src=$3 dir=$4 py=${5:-/usr/bin/python3}
cfg=$src/configs/brain.yaml
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
# A small brain run: 4 x 4 = 16 training slices (3 runs of 4... as whole slabs), test as in DATA.md.
small() {
    "$vk" train "$cfg" train.batch=4 train.warmup=5 train.save_every=1 "$@"
}
case $case in
main)
    small train.epochs=1 output=run || fail "train exited $?"
    "$vk" eval "$cfg" output=run > eval.txt || fail "eval exited $?"
    cat eval.txt
    grep -q "mean Dice" eval.txt || fail "no mean Dice line"
    "$py" "$src/tests/cli/check_train_run.py" run 29 30 || fail "outputs malformed"
    ;;
resume)
    small train.epochs=2 output=a || fail "straight run exited $?"
    small train.epochs=2 train.stop_epoch=1 output=b || fail "first half exited $?"
    small train.epochs=2 train.stop_epoch=2 output=b --resume || fail "resume exited $?"
    # Same steps, epochs, learning rates and losses to the last digit the CSV shows.
    cut -d, -f1-6 a/log.csv > a.cols && cut -d, -f1-6 b/log.csv > b.cols
    [ "$(wc -l < a.cols)" -eq 59 ] || fail "expected 58 steps + header in a/log.csv"
    cmp a.cols b.cols || { diff a.cols b.cols | head; fail "resumed loss curve differs"; }
    "$py" "$src/tests/cli/check_train_run.py" --same-weights a/model.safetensors \
        b/model.safetensors || fail "resumed weights differ"
    echo "resume exact: $(($(wc -l < a.cols) - 1)) steps identical"
    ;;
lora)
    base=$6
    [ -f "$base" ] || { echo "skipped: $base missing (the fixture needs python3-torch)"; exit 77; }
    "$vk" train "$cfg" model.preset=tiny model.checkpoint="$base" model.finetune=lora \
        model.image_size=256 train.batch=2 train.epochs=1 train.warmup=2 output=lora \
        data.train='[{image: /usr/share/mricron/templates/ch2.nii.gz, label: /usr/share/mricron/templates/aal.nii.gz, slices: "60-65"}]' \
        || fail "LoRA train exited $?"
    "$py" "$src/tests/cli/check_train_run.py" --lora lora/model.pth 6 || fail "bad LoRA export"
    "$vk" eval "$cfg" model.preset=tiny model.checkpoint="$base" model.finetune=lora \
        model.image_size=256 output=lora --model lora/model.pth --no-overlays > eval.txt ||
        fail "eval of the LoRA export exited $?"
    grep -q "mean Dice" eval.txt || fail "no mean Dice line"
    "$vk" segment --checkpoint "$base" --lora lora/model.pth --classes 8 --size 256 \
        --image /usr/share/mricron/templates/ch2.nii.gz --slice 80 --out seg.png ||
        fail "segment with the LoRA export exited $?"
    [ -s seg.png ] || fail "no seg.png"
    # SAMed_s: adapters on the decoder's attentions as well, its .pth in SAMed_s's layout.
    "$vk" train "$cfg" model.preset=tiny model.checkpoint="$base" model.finetune=lora_decoder \
        model.image_size=256 train.batch=2 train.epochs=1 train.warmup=2 output=lora_s \
        data.train='[{image: /usr/share/mricron/templates/ch2.nii.gz, label: /usr/share/mricron/templates/aal.nii.gz, slices: "60-65"}]' \
        || fail "SAMed_s train exited $?"
    "$py" "$src/tests/cli/check_train_run.py" --lora-s lora_s/model.pth 6 2 ||
        fail "bad SAMed_s export"
    "$vk" eval "$cfg" model.preset=tiny model.checkpoint="$base" model.finetune=lora_decoder \
        model.image_size=256 output=lora_s --model lora_s/model.pth --no-overlays > eval_s.txt ||
        fail "eval of the SAMed_s export exited $?"
    grep -q "mean Dice" eval_s.txt || fail "no mean Dice line (SAMed_s)"
    ;;
nan)
    # A NaN pixel in a step's batch (test hook VKSAMED_TEST_NAN_STEP): the device skips that
    # update. stop: the run ends naming the step; skip: the batch is dropped and the run goes on.
    # 4 slices, batch 4: one step per epoch.
    four='data.train=[{image: /usr/share/mricron/templates/ch2.nii.gz, label: /usr/share/mricron/templates/aal.nii.gz, slices: "60-63"}]'
    out=$(VKSAMED_TEST_NAN_STEP=2 small train.epochs=2 output=stop "$four" 2>&1); rc=$?
    echo "$out" | tail -1
    [ $rc -eq 1 ] || fail "stop: exit $rc"
    echo "$out" | grep -qE "step 2 .*the loss is nan.*stopped" || fail "stop: no message naming step 2"
    VKSAMED_TEST_NAN_STEP=2 small train.epochs=2 train.nan=skip output=skip "$four" 2> skip.err ||
        { cat skip.err; fail "skip: exit $?"; }
    grep -qE "step 2 .*the loss is nan: batch skipped" skip.err || fail "skip: no note for step 2"
    small train.epochs=2 train.stop_epoch=1 output=one "$four" 2> /dev/null || fail "one step: exit $?"
    # The skipped step changed nothing: the weights after it are those after step 1.
    "$py" "$src/tests/cli/check_train_run.py" --same-weights skip/model.safetensors \
        one/model.safetensors || fail "the skipped step changed the weights"
    "$py" - skip/state.safetensors <<'PY' || fail "skip: state metadata"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
meta = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"]
assert meta["step"] == "2" and meta["adamw_step"] == "1", meta
print("state: step 2, AdamW step 1")
PY
    ;;
faults)
    # Vulkan faults by injection (VKSAMED_FAULT): the device lost at the 3rd graph run (one
    # step per epoch here: after the checkpoint of step 2) stops training with a message naming the step, the graph
    # and the intact checkpoint; segment fails the same way; both exit 1 without a crash.
    four='data.train=[{image: /usr/share/mricron/templates/ch2.nii.gz, label: /usr/share/mricron/templates/aal.nii.gz, slices: "60-63"}]'
    out=$(VKSAMED_FAULT=device_lost:3 small train.epochs=3 output=lost "$four" 2>&1); rc=$?
    echo "$out" | tail -1
    [ $rc -eq 1 ] || fail "device lost in training: exit $rc"
    echo "$out" | grep -qE "training step 3: the Vulkan device .* was lost \(VK_ERROR_DEVICE_LOST.*graph of [0-9]+ nodes.*checkpoint in [^ ]*lost is intact" ||
        fail "device lost in training: message"
    small train.epochs=3 output=lost "$four" --resume 2> resume.err || fail "--resume after the loss: exit $?"
    grep -q "resuming at step 2" resume.err || fail "--resume did not start at the checkpoint"
    out=$(VKSAMED_FAULT=device_lost:1 "$vk" segment --checkpoint lost/model.safetensors --classes 8 \
        --size 224 --image /usr/share/mricron/templates/ch2.nii.gz --out seg.png 2>&1); rc=$?
    echo "$out" | tail -1
    [ $rc -eq 1 ] && [ ! -e seg.png ] || fail "device lost in segment: exit $rc, or seg.png written"
    echo "$out" | grep -q "VK_ERROR_DEVICE_LOST" || fail "device lost in segment: message"
    # The device out of memory at the 2nd block (the training graph's activations): named.
    out=$(VKSAMED_FAULT=oom:2 small train.epochs=1 output=oom "$four" 2>&1); rc=$?
    echo "$out" | tail -1
    [ $rc -eq 1 ] || fail "out of device memory: exit $rc"
    echo "$out" | grep -qE "activation block of [0-9]+ bytes .* failed with VK_ERROR_OUT_OF_DEVICE_MEMORY" ||
        fail "out of device memory: message"
    [ ! -e oom/model.safetensors ] || fail "out of device memory: a model was written"
    ;;
errors)
    expect_fail() {
        local want=$1; shift
        out=$("$vk" "$@" 2>&1); rc=$?
        echo "$out" | tail -2
        [ $rc -eq 1 ] || [ $rc -eq 2 ] || fail "exit $rc for: $*"
        echo "$out" | grep -qE "$want" || fail "message does not match '$want': $*"
    }
    expect_fail "train.bacth: unknown key" train "$cfg" train.bacth=2 output=e1
    expect_fail "cannot open|No such file|not found" train /nonexistent.yaml
    expect_fail "model.checkpoint|/nonexistent.pth" train "$cfg" model.checkpoint=/nonexistent.pth model.finetune=lora output=e2
    expect_fail "state.safetensors" train "$cfg" output=e3 --resume
    expect_fail "model.safetensors" eval "$cfg" output=e4
    printf 'model: {preset: brain, classes: 2}\ntrain: {batch: 2}\ndata:\n  format: nifti\n  train: [{image: /usr/share/mricron/templates/ch2.nii.gz, label: /usr/share/mricron/templates/aal.nii.gz, slices: "60-61"}]\noutput: e5\n' > two.yaml
    expect_fail "label value [0-9]+ .* 2 classes" train two.yaml
    for d in e1 e2 e4; do [ ! -e $d ] || [ -z "$(ls -A $d)" ] || fail "$d was written"; done
    # A finished run is never overwritten by a fresh one into the same folder.
    mkdir -p e6 && printf 'old' > e6/model.safetensors && printf 'old log' > e6/log.csv
    expect_fail "e6 already holds a training run .*--resume continues it" train "$cfg" output=e6
    [ "$(cat e6/model.safetensors)" = old ] && [ "$(cat e6/log.csv)" = "old log" ] ||
        fail "e6 was overwritten"
    ;;
*) fail "unknown case $case" ;;
esac
echo "PASS $case"
