"""Run the Fly Machines API emulator in the foreground.

    python -m tools.fly_emulator --port 4280 --token dev-token [--org personal] [--latency 0.1]
        [--rate-429 0.1] [--rate-5xx 0.1] [--rate-drop 0.05] [--docker]

Then: FLY_API_TOKEN=dev-token and stack config openclaw-fleet:flyApiUrl=http://127.0.0.1:4280.
"""

import argparse
import time

from tools.fly_emulator.runtime import DockerRuntime
from tools.fly_emulator.server import Emulator, Faults

parser = argparse.ArgumentParser(prog="python -m tools.fly_emulator", description=__doc__.splitlines()[0])
parser.add_argument("--port", type=int, default=4280)
parser.add_argument("--token", action="append", default=None, help="accepted bearer token (repeatable)")
parser.add_argument("--org", action="append", default=None, help="org slug that exists (repeatable)")
parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
parser.add_argument("--rate-429", type=float, default=0.0)
parser.add_argument("--rate-5xx", type=float, default=0.0)
parser.add_argument("--rate-drop", type=float, default=0.0, help="share of connections closed unanswered")
parser.add_argument("--docker", action="store_true", help="run started machines as real Docker containers")
args = parser.parse_args()

emulator = Emulator(
    tokens=tuple(args.token or ["dev-token"]),
    orgs=tuple(args.org or ["personal"]),
    port=args.port,
    runtime=DockerRuntime() if args.docker else None,
)
emulator.set_faults(
    Faults(
        latency_s=args.latency,
        rate_429=args.rate_429,
        rate_5xx=args.rate_5xx,
        rate_drop_before=args.rate_drop / 2,
        rate_drop_after=args.rate_drop / 2,
    )
)
emulator.start()
print(f"Fly Machines API emulator on {emulator.url} (Ctrl-C stops it)", flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    emulator.stop()
