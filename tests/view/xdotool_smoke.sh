#!/usr/bin/env bash
# xdotool_smoke.sh VIEW CHECKPOINT IMAGE: vksamed-view under a real X server (Xvfb) with real
# input from xdotool (not --script): the window opens, the embedding is computed, a real click
# in the middle of the window gives a prompt whose latency line is logged, and `q` quits with
# status 0. The script mode covers the behaviour; this shows X's own events reach the same
# handlers.
set -u
view=$1 ckpt=$2 image=$3
dir=$(mktemp -d /tmp/vksamed_view_xdo_XXXXXX)
trap 'kill "$app" "$xvfb" 2>/dev/null; rm -rf "$dir"' EXIT
Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>"$dir/display" 2>"$dir/xvfb.log" &
xvfb=$!
for _ in $(seq 100); do [ -s "$dir/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$dir/display")"
SDL_RENDER_DRIVER=software "$view" --checkpoint "$ckpt" --size 512 --window 800x600 \
    --save "$dir/out" "$image" 2>"$dir/log" &
app=$!
wait_for() { # regex, seconds
    for _ in $(seq $(($2 * 10))); do
        grep -Eq "$1" "$dir/log" && return 0
        kill -0 "$app" 2>/dev/null || break
        sleep 0.1
    done
    echo "FAIL: no \"$1\" in the log:"; cat "$dir/log"; exit 1
}
wait_for "image embedding of" 120
win=$(xdotool search --sync --name '^vksamed-view$' | head -1)
[ -n "$win" ] || { echo "FAIL: no vksamed-view window"; exit 1; }
xdotool mousemove --window "$win" 400 250 click 1
wait_for "prompt 1: [0-9.]+ ms from the event to the frame presented" 60
xdotool key --window "$win" s
wait_for "saved .*out.mask.png" 30
xdotool key --window "$win" q
for _ in $(seq 100); do kill -0 "$app" 2>/dev/null || break; sleep 0.1; done
wait "$app"
rc=$?
cat "$dir/log"
[ $rc -eq 0 ] || { echo "FAIL: exit status $rc after q"; exit 1; }
[ -s "$dir/out.mask.png" ] || { echo "FAIL: s wrote no mask"; exit 1; }
echo "1 passed, 0 failed"
