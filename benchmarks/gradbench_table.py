"""Tables from the logs of ``gradbench_run.py``: per workload, per eval (GradBench's score), and
slpdiff's programs per size. Markdown on stdout. See docs/gradbench.md.

    python benchmarks/gradbench_table.py LOGS llsq kmeans ...   # the evals' names in LOGS
    python benchmarks/gradbench_table.py LOGS --summary llsq kmeans ...   # one row per eval

GradBench's score of a tool on an eval (its ``ScorerClassic``, crates/gradbench/src/stats.rs) is
1 / (sum over workloads of the mean ``evaluate`` time of the primal + that of the derivative),
given only when the tool's outcome is success. Here it is also given over the workloads that every
tool completed, so that tools with failures can be compared. Times are means over the runs of
one message, as GradBench's scorer takes them; the load is the machine's 1-minute load average
when the response came (2 cores: above 2, processes wait for a core).

Two more figures, because the scorer is not the same bargain for every tool: slpdiff reports its
preparation (writing, parsing and compiling the program) as a ``prepare`` timing, which is not
scored, while a JIT tool such as JAX compiles inside its first timed run, which is. So each row
also gives slpdiff's preparation and the ratio of the fastest runs (a warm comparison), and the
score table gives slpdiff's score with its preparation added to the sum (once per program made).
"""

from __future__ import annotations

import json
import os
import statistics
import sys

TOOLS = ("slpdiff", "jax", "pytorch")


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def read(logs: str, name: str, tool: str) -> dict | None:
    """Per evaluate message: (function, description) -> mean, runs, valid, error, load, prepare."""
    path = os.path.join(logs, f"{name}-{tool}.jsonl")
    if not os.path.exists(path):
        return None
    messages, responses = {}, {}
    with open(path) as f:
        for line in f:
            entry = json.loads(line)
            if "message" in entry:
                messages[json.dumps(entry["message"]["id"])] = entry["message"]
            else:
                responses[json.dumps(entry["response"]["id"])] = entry["response"]
    loads = {}
    load_path = path.replace(".jsonl", ".load.jsonl")
    if os.path.exists(load_path):
        with open(load_path) as f:
            for line in f:
                entry = json.loads(line)
                loads[json.dumps(entry["id"])] = entry["loadavg"]
    valid = {json.dumps(m["of"]): m.get("valid") for m in messages.values()
             if m.get("kind") == "analysis"}
    defined = all(r.get("success", True) for key, r in responses.items()
                  if messages[key].get("kind") == "define")
    result = {"defined": defined, "workloads": {}}
    for key, message in messages.items():
        if message.get("kind") != "evaluate":
            continue
        response = responses.get(key)
        # hello's messages have no description: its input (a number) names the workload
        workload = (message["function"], str(message.get("description") or
                                             json.dumps(message.get("input"))[:40]))
        if response is None:
            result["workloads"][workload] = {"error": "no response (timeout)"}
            continue
        if not response.get("success"):
            result["workloads"][workload] = {"error": response.get("error", "")}
            continue
        timings = response.get("timings") or []
        runs = [t["nanoseconds"] / 1e9 for t in timings if t["name"] == "evaluate"]
        prepare = sum(t["nanoseconds"] / 1e9 for t in timings if t["name"] == "prepare")
        result["workloads"][workload] = {
            "mean": statistics.fmean(runs), "min": min(runs), "runs": len(runs),
            "valid": valid.get(key), "load": loads.get(key), "prepare": prepare}
    return result


def outcome(data: dict | None) -> str:
    if data is None:
        return "not run"
    if not data["defined"]:
        return "undefined"
    entries = data["workloads"].values()
    if any("timeout" in e.get("error", "") for e in entries):
        return "timeout"  # the runner stopped the tool there
    if any("error" in e for e in entries):
        return "failure"
    if any(e.get("valid") is False for e in entries):
        return "invalid"
    return "success"


def score(data: dict, workloads, with_prepare: bool = False) -> float | None:
    """GradBench's score over ``workloads`` (descriptions); ``with_prepare`` adds the
    ``prepare`` timings to the sum."""
    total = 0.0
    for description in workloads:
        for function in {f for f, d in data["workloads"] if d == description}:
            entry = data["workloads"][(function, description)]
            if "mean" not in entry:
                return None
            total += entry["mean"] + (entry["prepare"] if with_prepare else 0.0)
    return 1 / total if total else None


def eval_tables(logs: str, name: str) -> None:
    data = {tool: read(logs, name, tool) for tool in TOOLS}
    present = [t for t in TOOLS if data[t] is not None and data[t]["defined"]]
    print(f"### {name}\n")
    print("outcomes: " + ", ".join(f"{t} {outcome(data[t])}" for t in TOOLS) + "\n")
    base = data["slpdiff"]
    if base is None:
        return
    heads = ["function", "workload", "slpdiff", "slpdiff prepare"] + [
        h for t in present if t != "slpdiff" for h in (t, f"slpdiff / {t}", "fastest runs")]
    print("| " + " | ".join(heads + ["load"]) + " |")
    print("|---|---|---|---|" + "---|---|---|" * (len(present) - 1) + "---|")
    for (function, description), entry in base["workloads"].items():
        cells = [seconds(entry.get("mean")) if "mean" in entry else
                 "timeout" if "timeout" in entry["error"] else "declined"]
        if entry.get("valid") is False:
            cells[0] += " INVALID"
        cells.append(seconds(entry["prepare"]) if entry.get("prepare") else "–")
        for tool in present:
            if tool == "slpdiff":
                continue
            other = data[tool]["workloads"].get((function, description), {})
            cells.append(seconds(other.get("mean")) if "mean" in other else
                         ("timeout" if "timeout" in other.get("error", "timeout") else "failed"))
            ratio = entry.get("mean", 0) / other["mean"] if "mean" in other and "mean" in entry \
                else None
            cells.append(f"{ratio:.3g}" if ratio else "–")
            fastest = entry["min"] / other["min"] if "min" in other and "min" in entry \
                else None
            cells.append(f"{fastest:.3g}" if fastest else "–")
        load = entry.get("load")
        cells.append(f"{load:.1f}" if load is not None else "")
        print(f"| {function} | {description} | " + " | ".join(cells) + " |")
    print()
    descriptions = sorted({d for _, d in base["workloads"]},
                          key=list(d for _, d in base["workloads"]).index)
    common = [d for d in descriptions
              if all(all("mean" in e for (f, dd), e in data[t]["workloads"].items() if dd == d)
                     and any(dd == d for _, dd in data[t]["workloads"]) for t in present)]
    print(f"GradBench's score (1 / sum of mean primal + derivative times; higher is better), over "
          f"all workloads (only with outcome success) and over the {len(common)} workloads every "
          "tool completed:\n")
    print("| tool | outcome | score, all | score, common | score, all, preparation counted |")
    print("|---|---|---|---|---|")
    for tool in present:
        everything = score(data[tool], descriptions) if outcome(data[tool]) == "success" \
            else None
        shared = score(data[tool], common) if common else None
        prepared = score(data[tool], descriptions, with_prepare=True) \
            if tool == "slpdiff" and everything else None
        print(f"| {tool} | {outcome(data[tool])} | {everything and f'{everything:.4g}' or '–'} | "
              f"{shared and f'{shared:.4g}' or '–'} | {prepared and f'{prepared:.4g}' or '–'} |")
    print()


def program_table(logs: str, name: str) -> None:
    path = os.path.join(logs, f"{name}-slpdiff.stats.jsonl")
    if not os.path.exists(path):
        return
    made, compiled = {}, {}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if "function" in record:
                compiled.setdefault(record["size"], []).append(
                    f"{record['function']} {seconds(record['compile_seconds'])}")
            else:
                made[record["size"]] = record
    print(f"slpdiff's programs for {name}:\n")
    print("| size | statements | nodes | characters | inputs | write + parse | first "
          "evaluation (compiles) |")
    print("|---|---|---|---|---|---|---|")
    for size, r in made.items():
        print(f"| {size if len(size) < 20 else size[-12:]} | {r['statements']:,} | "
              f"{r['nodes']:,} | {r['characters']:,} | {r['inputs']:,} | "
              f"{seconds(r['generate_seconds'])} + {seconds(r['parse_seconds'])} | "
              f"{', '.join(compiled.get(size, [])) or '–'} |")
    print()


def summary_table(logs: str, names: list[str]) -> None:
    """One row per eval: each tool's outcome and GradBench's score (over all its workloads)."""
    print("| eval | workloads | " + " | ".join(TOOLS) + " | slpdiff, preparation counted |")
    print("|---|---|" + "---|" * len(TOOLS) + "---|")
    for name in names:
        data = {tool: read(logs, name, tool) for tool in TOOLS}
        if data["slpdiff"] is None:
            continue
        descriptions = list(dict.fromkeys(d for _, d in data["slpdiff"]["workloads"]))
        cells = []
        for tool in TOOLS:
            result = outcome(data[tool])
            value = score(data[tool], descriptions) if result == "success" else None
            cells.append(f"{value:.4g}" if value else result)
        prepared = score(data["slpdiff"], descriptions, with_prepare=True) \
            if outcome(data["slpdiff"]) == "success" else None
        print(f"| {name} | {len(descriptions)} | " + " | ".join(cells) +
              f" | {f'{prepared:.4g}' if prepared else '–'} |")
    print()


def main() -> None:
    logs, names = sys.argv[1], sys.argv[2:]
    if names and names[0] == "--summary":
        summary_table(logs, names[1:])
        return
    for name in names:
        eval_tables(logs, name)
        program_table(logs, name)


if __name__ == "__main__":
    main()
