"""``mlctl --help`` wall time against ``python -c pass`` (median of N runs each).

One command:  python bench/cli_startup.py

Target (issue 2): at most 150 ms more than a bare interpreter start. Runs alternate
between the two commands so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

TARGET_EXTRA_MS = 150.0


def wall_ms(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    mlctl = shutil.which("mlctl")
    help_command = [mlctl, "--help"] if mlctl else [sys.executable, "-m", "mlctl", "--help"]
    bare_command = [sys.executable, "-c", "pass"]
    wall_ms(help_command)  # warm the file cache
    bare, helped = [], []
    for _ in range(args.runs):
        bare.append(wall_ms(bare_command))
        helped.append(wall_ms(help_command))
    bare_ms, help_ms = statistics.median(bare), statistics.median(helped)
    extra = help_ms - bare_ms
    print(f"python -c pass   median {bare_ms:7.1f} ms  ({args.runs} runs)")
    print(f"mlctl --help     median {help_ms:7.1f} ms")
    verdict = "meets" if extra <= TARGET_EXTRA_MS else "MISSES"
    print(
        f"extra            {extra:7.1f} ms  ({verdict} the target of <= {TARGET_EXTRA_MS:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
