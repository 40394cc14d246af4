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
source "${OPENCLAW_FLEET_CACHE:-$HOME/.cache/openclaw-fleet}/env.sh"
log=${BUSY_LOG:-/tmp/openclaw-fleet-busy.log}
# The build's context is a copy of image/ with a LABEL step of its own right after FROM. Docker's
# (classic) build cache is the chain of intermediate images, and another build of image/ would
# otherwise take this build's layers as its cache; removing them under it then fails that build
# ("failed to get digest") or deletes the image it just tagged. With the extra step no layer of
# this build matches a step of image/'s Dockerfile.
context=${TMPDIR:-/tmp}/openclaw-fleet-busy-context
rm -rf "$context" && mkdir -p "$context" && cp -r "$root/image/." "$context/"
sed -i '/^FROM /a LABEL openclaw-fleet.busy-build=true' "$context/Dockerfile"
(
  while :; do
    # untagged and removed at once: a no-cache build writes 0.6 GB of new layers each time
    id=$(docker build --no-cache -q --build-arg BASE_IMAGE=openclaw-fleet/node:24.21.0 "$context" 2>/dev/null)
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
