"""The verdict of `nox -s mutate`: mutmut's results per module, and the survivors explained.

mutmut keeps each mutant's result in mutants/<module>.py.meta (the exit code of
the tests that ran against it). This prints killed/survived per module and in
all, and fails when fewer than `--gate` percent were killed, or when a mutant
survived that tests/mutation-survivors.txt does not explain: that file has one
line per survivor, `<mutant name>  <why no test kills it>`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[2]
SURVIVORS_FILE = ROOT / "tests" / "mutation-survivors.txt"
#: mutmut's own verdicts (its exit-code table) that count as killed: the tests failed,
#: crashed, ran out of time, or the type check refused the mutant.
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def results(mutants: Path) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        found.update(json.loads(meta.read_text("utf-8"))["exit_code_by_key"])
    return found


def explained(path: Path) -> dict[str, str]:
    reasons: dict[str, str] = {}
    if not path.exists():
        return reasons
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            reasons[name] = reason.strip()
    return reasons


def module_of(mutant: str) -> str:
    """service.errors.x_register__mutmut_1, or xǁApiErrorǁ__init____mutmut_1 for a method."""
    return mutant.removeprefix("service.").split(".", 1)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gate", type=float, default=90.0, help="percent that must be killed")
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    parser.add_argument("--survivors", type=Path, default=SURVIVORS_FILE)
    args = parser.parse_args(argv)

    found = results(args.mutants)
    if not found:
        print("no mutmut results: run `mutmut run` first", file=sys.stderr)
        return 1
    reasons = explained(args.survivors)
    total: Counter[str] = Counter()
    killed: Counter[str] = Counter()
    not_killed: list[str] = []
    unchecked = 0
    for name, code in found.items():
        if code is None:
            unchecked += 1
            continue
        total[module_of(name)] += 1
        if status_by_exit_code[code] in KILLED:
            killed[module_of(name)] += 1
        else:
            not_killed.append(name)

    print(f"{'module':<14} {'mutants':>8} {'killed':>7} {'%':>6}")
    for module in sorted(total):
        share = 100 * killed[module] / total[module]
        print(f"{module:<14} {total[module]:>8} {killed[module]:>7} {share:>6.1f}")
    all_total, all_killed = sum(total.values()), sum(killed.values())
    score = 100 * all_killed / all_total if all_total else 0.0
    print(f"{'all':<14} {all_total:>8} {all_killed:>7} {score:>6.1f}")

    unexplained = [n for n in not_killed if n not in reasons]
    # Listed, checked and killed: a mutant not checked in this run says nothing yet.
    stale = sorted(n for n in reasons if found.get(n) is not None and n not in not_killed)
    # Listed, but mutmut made no such mutant: the code it named has changed or gone.
    gone = sorted(n for n in reasons if n not in found)
    print(
        f"\n{len(not_killed)} not killed, {len(not_killed) - len(unexplained)} explained in "
        f"{args.survivors.name}"
    )
    for name in unexplained:
        print(f"  unexplained ({status_by_exit_code[found[name]]}): {name}   (mutmut show {name})")
    for name in stale:
        print(f"  listed but killed now (remove the line): {name}")
    for name in gone:
        print(f"  listed but no such mutant (remove the line): {name}")
    if unchecked:
        print(f"{unchecked} mutants not checked yet")
    failed = score < args.gate or bool(unexplained) or unchecked > 0
    print(f"\nmutation score {score:.1f}% (gate {args.gate:g}%): {'FAIL' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
