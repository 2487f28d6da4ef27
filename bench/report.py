"""The bench's output: a table of figures next to their targets, and a JSON file."""

import datetime
import json
import os

from c3d.atomic import atomic_output


def verdict(targets, key, value):
    if key not in targets or not isinstance(value, (int, float)):
        return ""
    op, target = targets[key]
    ok = value >= target if op == "≥" else value < target
    return f"target {op} {target:g}: {'ok' if ok else 'MISSED'}"


def missed(targets, results):
    return [key for key, value in results.items() if "MISSED" in verdict(targets, key, value)]


def print_table(results, targets):
    """Every numeric figure, one a line, with its verdict; then the other entries."""
    rows = [(k, v) for k, v in results.items() if isinstance(v, (int, float))]
    width = max((len(key) for key, _ in rows), default=10)
    print(f"{'figure':<{width}}  {'value':>10}  target")
    for key, value in rows:
        shown = f"{value:>10.2f}" if abs(value) >= 0.1 or value == 0 else f"{value:>10.3g}"
        print(f"{key:<{width}}  {shown}  {verdict(targets, key, value)}")
    for key, value in results.items():
        if not isinstance(value, (int, float)):
            print(f"\n{key}: {json.dumps(value)}")


def write_json(results, folder, prefix="bench"):
    """``folder/<prefix>-<date>-<time>.json``; returns its path."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(folder, f"{prefix}-{stamp}.json")
    os.makedirs(folder, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        json.dump(results, f, indent=2)
    return path
