#!/bin/bash
# Entrypoint of the gateway image. Arguments are an `openclaw` command line (the image's CMD, or a
# Fly machine's init.cmd): `gateway --allow-unconfigured --bind lan --auth token`.
#
# Before the gateway starts it
#  - removes /tmp/openclaw* and $OPENCLAW_STATE_DIR/tmp/openclaw* left by a previous boot (the pinned
#    OpenClaw keeps its gateway locks under the state dir,
#    judges them by PID, and waits up to five minutes for an owner that a new container's reused
#    PID makes look alive). This container is the only user of its state volume, so at boot any
#    lock there is stale;
#  - checks that the state dir is writable by this user: EACCES on /home/node/.openclaw is the
#    failure operators report most, and the gateway's own message for it comes late and vague;
#  - refuses to start a `--bind lan` gateway without OPENCLAW_GATEWAY_TOKEN, which OpenClaw would
#    otherwise refuse while the container looks healthy (https://docs.openclaw.ai/network);
#  - starts the session-key fixer (fix-session-keys.mjs) in the background.
# Then it runs the gateway under a startup watchdog: when the port does not accept connections
# within OPENCLAW_STARTUP_TIMEOUT_SEC seconds it stops the gateway and exits 1, so the restart
# policy recovers instead of leaving a started-but-dead machine.
set -euo pipefail

state_dir="${OPENCLAW_STATE_DIR:-/home/node/.openclaw}"
port="${OPENCLAW_GATEWAY_PORT:-18789}"
timeout="${OPENCLAW_STARTUP_TIMEOUT_SEC:-240}"

rm -rf /tmp/openclaw /tmp/openclaw-* 2>/dev/null || true

mkdir -p "$state_dir" 2>/dev/null || true
rm -rf "$state_dir"/tmp/openclaw "$state_dir"/tmp/openclaw-* 2>/dev/null || true
if ! ( : > "$state_dir/.write-test" ) 2>/dev/null; then
  echo "entrypoint: $state_dir is not writable by uid $(id -u); the volume must be owned by uid 1000" >&2
  exit 78
fi
rm -f "$state_dir/.write-test"

if [ "${1:-}" != "gateway" ]; then
  exec openclaw "$@"
fi

if [[ " $* " == *" --bind lan "* ]] && [ -z "${OPENCLAW_GATEWAY_TOKEN:-}" ]; then
  echo "entrypoint: --bind lan needs OPENCLAW_GATEWAY_TOKEN; refusing to start an unauthenticated gateway" >&2
  exit 78
fi

node /usr/local/lib/openclaw-fleet/fix-session-keys.mjs "$state_dir" &
fixer=$!

openclaw "$@" &
gateway=$!
trap 'kill -TERM "$gateway" 2>/dev/null' TERM INT

deadline=$((SECONDS + timeout))
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
  if ! kill -0 "$gateway" 2>/dev/null; then
    break
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "entrypoint: gateway did not bind port $port within ${timeout}s; exiting so the restart policy can recover" >&2
    kill -TERM "$gateway" 2>/dev/null || true
    wait "$gateway" || true
    kill "$fixer" 2>/dev/null || true
    exit 1
  fi
  sleep 1
done

status=0
wait "$gateway" || status=$?
# A TERM interrupts the first wait; wait again for the gateway's own exit.
if kill -0 "$gateway" 2>/dev/null; then wait "$gateway" || status=$?; fi
kill "$fixer" 2>/dev/null || true
exit "$status"
