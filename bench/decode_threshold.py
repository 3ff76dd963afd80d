"""Where the typed decoders start to pay (decode.TYPED_AT): a LIST page of N realistic objects, both sides.

Each figure is a fresh interpreter's first page, as a run meets it: the standard library's json.loads +
kinds.clean against msgspec's import, the kind's decoders made from shape.SHAPES, and its decoding. The median
of --runs processes; the page as the API server serves it (bench/objects.py, managedFields included).

    .venv/bin/python bench/decode_threshold.py [--runs 7] [--kinds Pod,Service]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import objects  # noqa: E402

COUNTS = (1, 3, 10, 30, 100, 300)

# Run in a fresh interpreter: kinds and shape are imported by every run already, so they are not timed.
CHILD = """
import sys, time
from kubectl_tke_net import decode, kinds
data = open(sys.argv[1], "rb").read()
kind = kinds.BY_KIND[sys.argv[2]]
if sys.argv[3] == "stdlib":
    decode.TYPED = False
else:
    decode.TYPED_AT = 0
started = time.perf_counter()
doc = decode.page(kind)(data)
first = time.perf_counter() - started
started = time.perf_counter()
decode.page(kind)(data)
again = time.perf_counter() - started
assert len(doc["items"]) == int(sys.argv[4])
print(first * 1000, again * 1000, "msgspec" in sys.modules)
"""


def page(kind: str, n: int) -> bytes:
    def one(i: int) -> dict[str, Any]:
        if kind == "Pod":
            return objects.pod(i, i, "shop", "web", node="10.0.1.2", ip=f"172.20.0.{i % 250}", host_ip="10.0.1.2")
        if kind == "Service":
            return objects.service(i, "shop", f"svc-{i:05d}")
        raise SystemExit(f"no realistic {kind} in bench/objects.py")

    items = [{k: v for k, v in one(i).items() if k not in ("kind", "apiVersion")} for i in range(n)]
    return json.dumps({"kind": f"{kind}List", "apiVersion": "v1", "metadata": {}, "items": items}).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--kinds", default="Pod,Service")
    args = parser.parse_args()
    print(f"{'kind':<8} {'items':>5} {'bytes':>9}  {'stdlib ms':>9}  {'typed ms':>8}  {'typed again':>11}  faster")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            for n in COUNTS:
                body = Path(tmp) / f"{kind}-{n}.json"
                body.write_bytes(page(kind, n))
                got: dict[str, list[tuple[float, float]]] = {"stdlib": [], "typed": []}
                for _ in range(args.runs):
                    for side in ("stdlib", "typed"):  # in turn, so that both sides see the same machine
                        out = subprocess.run(
                            [sys.executable, "-c", CHILD, str(body), kind, side, str(n)],
                            check=True,
                            capture_output=True,
                            text=True,
                        ).stdout.split()
                        assert (out[2] == "True") == (side == "typed"), "msgspec imported on the stdlib side"
                        got[side].append((float(out[0]), float(out[1])))
                plain = statistics.median(f for f, _ in got["stdlib"])
                typed = statistics.median(f for f, _ in got["typed"])
                again = statistics.median(a for _, a in got["typed"])
                faster = "typed" if typed < plain else "stdlib"
                size = body.stat().st_size
                print(f"{kind:<8} {n:>5} {size:>9}  {plain:>9.2f}  {typed:>8.2f}  {again:>11.2f}  {faster}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
