#!/usr/bin/env bash
# Keeps this machine as busy as a shared workstation or CI runner is, until killed (kill the
# process group: `kill -- -PID`): beside whatever runs here, in two loops,
#   - a build: the gateway image without Docker's cache (npm install of openclaw, layers
#     written), then a pause of BUSY_BUILD_PAUSE seconds (default 60);
#   - another `pulumi up`: bench/fleet_scale.py's 20-user Fly fleet against the emulator (up,
#     preview, a change, destroy), then a pause of BUSY_UP_PAUSE seconds (default 30).
# .ci/run runs the test suite beside it, so the suite is shown to hold on a loaded 2-core machine.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=/dev/null
source "${OPENCLAW_FLEET_CACHE:-$HOME/.cache/openclaw-fleet}/env-$(printf '%s' "$root" | sha256sum | cut -c1-12).sh"
log=${BUSY_LOG:-/tmp/openclaw-fleet-busy.log}
# The build's context is a copy of image/, built FROM an image of its own: the base image plus a
# label, tagged and kept. Docker's (classic) build cache is the chain of intermediate images: a
# cached build looks its next step up among the children of the image it is at, and fails ("unable
# to find image sha256:…") when one of them is removed under it (moby/moby#29011). This build's
# layers, removed after each round, are then children of that image of its own, never of the base
# image that image/'s builds (the tests', the fleet's) start from.
context=${TMPDIR:-/tmp}/openclaw-fleet-busy-context
rm -rf "$context" && mkdir -p "$context" && cp -r "$root/image/." "$context/"
busy_base=openclaw-fleet/node:busy
printf 'FROM openclaw-fleet/node:24.21.0\nLABEL openclaw-fleet.busy-base=true\n' \
  | DOCKER_BUILDKIT=0 docker build -q -t "$busy_base" - >/dev/null
(
  while :; do
    # untagged and removed at once: a no-cache build writes 0.6 GB of new layers each time
    id=$(docker build --no-cache -q --build-arg BASE_IMAGE="$busy_base" "$context" 2>/dev/null)
    [ -n "$id" ] && docker image rm "$id" >/dev/null 2>&1
    sleep "${BUSY_BUILD_PAUSE:-60}"
  done
) &
(
  while :; do
    "$OPENCLAW_FLEET_PYTHON" "$root/bench/fleet_scale.py" --users 20 --imperative-max 20 --start 1 >/dev/null 2>&1
    sleep "${BUSY_UP_PAUSE:-30}"
  done
) &
echo "busy: a no-cache image build and a 20-user pulumi up, in loops (pid $$)" >"$log"
wait
