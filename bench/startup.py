"""Start-up benchmark: `histkit --help` against `python -c pass`, same interpreter.

Prints the median of several runs of each and the ratio; the goal is under
0.3 s absolute on the project's 2-core machine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def median_seconds(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(runs: int = 15) -> None:
    base = median_seconds([sys.executable, "-c", "pass"], runs)
    help_ = median_seconds([sys.executable, "-m", "histkit", "--help"], runs)
    print(f"python -c pass   {base * 1000:7.1f} ms")
    print(f"histkit --help   {help_ * 1000:7.1f} ms  ({help_ / base:.1f}x python start-up; "
          f"goal < 300 ms: {'met' if help_ < 0.3 else 'NOT met'})")


if __name__ == "__main__":
    main()
