"""`make test-api`: schemathesis, every check, against the live management API.

Starts the platform of `dapr.yaml` on the embedded runtime (`testkit.platform`: the four
apps and their sidecars, as `make run` runs them, on free ports, in a temporary folder),
mints a token holding every role from the platform's local issuer, and runs `schemathesis
run` on the API's own OpenAPI document with `--checks all`: a status code, content type,
header or body the document does not declare, a 5xx, a valid request refused or an invalid
one accepted, a protected route answering without a token: each is a failure, and the exit
code is schemathesis's. Bounded: a fixed seed, `--max-examples` cases per operation.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testkit.platform import Platform, PlatformSettings
from testkit.runtimes import EmbeddedRuntime

SEED = {"SKU-001": 1_000_000, "SKU-002": 1_000_000}


def main() -> int:
    parser = argparse.ArgumentParser(prog="tools/api_fuzz.py", description=__doc__)
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--keep", type=Path, help="a folder for the platform (kept)")
    args, extra = parser.parse_known_args()
    schemathesis = Path(sys.executable).parent / "schemathesis"
    with tempfile.TemporaryDirectory(prefix="api-fuzz-") as scratch:
        root = args.keep or Path(scratch)
        started = time.monotonic()
        platform = Platform(
            root, PlatformSettings(inventory_seed=SEED, log_level="warn"), runtime=EmbeddedRuntime()
        ).start()
        print(f"api-fuzz: platform ready in {time.monotonic() - started:.1f}s", flush=True)
        try:
            token = platform.token("schemathesis", ["viewer", "operator", "approver"])
            command = [
                str(schemathesis),
                "run",
                f"{platform.api_url}/openapi.json",
                "--checks",
                "all",
                "--header",
                f"Authorization: Bearer {token}",
                "--max-examples",
                str(args.max_examples),
                "--seed",
                str(args.seed),
                "--workers",
                "1",
                "--request-timeout",
                "30",
                *extra,
            ]
            began = time.monotonic()
            code = subprocess.run(command, env={**os.environ, "NO_COLOR": "1"}).returncode
            print(f"api-fuzz: schemathesis ran {time.monotonic() - began:.1f}s", flush=True)
            return code
        finally:
            platform.close()


if __name__ == "__main__":
    sys.exit(main())
