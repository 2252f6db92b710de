"""Compare two EDGED_TRAIN_REPORT files, one per torch version
(`make test-python` writes build/torch1-report.json, `make
test-python-torch2` build/torch2-report.json): print every measurement
side by side and exit 1 when an accuracy differs by more than the int8
gate (verify.MAX_INT8_DROP points) between the two runs.

    python trainer/tests/compare_reports.py build/torch1-report.json build/torch2-report.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The gate's value, read without importing torch (the comparison runs in
# either venv, or in none): edged_train/verify.py defines MAX_INT8_DROP.
GATE = next(float(line.split("=")[1]) for line in
            (Path(__file__).resolve().parents[1] / "edged_train" / "verify.py").read_text().splitlines()
            if line.startswith("MAX_INT8_DROP"))


def compare(a: dict, b: dict) -> list[str]:
    """The measurements that differ by more than GATE points, as lines."""
    bad = []
    print(f"{'measurement':42} {'torch ' + a['torch']:>18} {'torch ' + b['torch']:>18}")
    for name in sorted(set(a["measured"]) | set(b["measured"])):
        ma, mb = a["measured"].get(name, {}), b["measured"].get(name, {})
        for key in sorted(set(ma) | set(mb)):
            va, vb = ma.get(key, "-"), mb.get(key, "-")
            if isinstance(va, float) or isinstance(vb, float):
                fa = f"{va:.1f}" if isinstance(va, (int, float)) else va
                fb = f"{vb:.1f}" if isinstance(vb, (int, float)) else vb
                print(f"{name + ' ' + key:42} {fa:>18} {fb:>18}")
                if "accuracy" in key or "agreement" in key:
                    if not (isinstance(va, (int, float)) and isinstance(vb, (int, float))):
                        bad.append(f"{name} {key}: measured in one run only")
                    elif abs(va - vb) > GATE:
                        bad.append(f"{name} {key}: {va:.1f} vs {vb:.1f}, more than {GATE} points apart")
            else:
                same = "same" if va == vb else "differs"
                print(f"{name + ' ' + key:42} {str(va)[:16]:>18} {str(vb)[:16]:>18}  {same}")
    return bad


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = (json.loads(Path(p).read_text()) for p in argv)
    bad = compare(a, b)
    for line in bad:
        print("FAIL:", line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
