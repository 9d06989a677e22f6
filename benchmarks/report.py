"""Turn the results document into a terminal table, a Markdown table and a chart.

The ratio printed beside each peer is minievent's *advantage*: how many times
better minievent did, whichever way "better" points (more round trips per
second, or fewer milliseconds late, or fewer KiB). Above 1 minievent is ahead,
below 1 behind -- one reading rule for every row.
"""

from __future__ import annotations

from pathlib import Path

from .plan import LABELS

#: Columns of the Markdown table; the recorder and the greenlet ceiling get their own lines.
PEERS = ["eventlet", "gevent", "asyncio", "uvloop", "threads"]


def fmt(v: float | None) -> str:
    """Three significant digits, with k / M for big rates."""
    if v is None:
        return "-"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.3g} M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.3g} k"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def label(lib: str) -> str:
    return LABELS.get(lib, lib)


def text_table(doc: dict) -> str:
    """The terminal report: one block per metric, one line per library."""
    m = doc["machine"]
    lines = [
        f"minievent benchmarks: size {doc['size']}, median of {doc['runs']} run(s) (min..max); "
        f"{m['nproc']} cores, {m['cpu']}, Python {m['python']}",
        "x = how many times better minievent is than that library (> 1: minievent ahead)",
    ]
    for metric in doc["metrics"]:
        lines.append("")
        lines.append(f"{metric['title']}  [{metric['unit']}, {metric['better']} is better]")
        res, adv = metric["results"], metric["advantage"]
        for lib in metric["libs"]:
            name = label(lib)
            if lib in res:
                r = res[lib]
                rng = f"({fmt(r['min'])}..{fmt(r['max'])})"
                ratio = f"x{adv[lib]:.2f}" if lib in adv else ""
                note = metric["notes"].get(lib, "")
                lines.append(f"  {name:<22} {fmt(r['median']):>9}  {rng:<22} {ratio:>7}  {note}".rstrip())
            else:
                why = metric["notes"].get(lib) or doc["skipped"].get(lib, "not measured")
                lines.append(f"  {name:<22} {'-':>9}  skipped: {why}")
    lines.append("")
    lines.append("goals (medians of this run):")
    lines.extend("  " + goal_line(g) for g in doc["goals"])
    if doc.get("flight"):
        lines += ["", flight_text(doc["flight"])]
    if doc["errors"]:
        lines.append("")
        lines.append("errors:")
        lines.extend("  " + e for e in doc["errors"])
    return "\n".join(lines)


def goal_line(g: dict) -> str:
    state = {True: "met   ", False: "MISSED", None: "n/a   "}[g["met"]]
    if g["measured"] is None:
        value = "not measured"
    elif g["kind"] == "ms":
        value = f"{g['measured']:.2f} ms (limit {g['target']} ms)"
    else:
        value = f"{g['measured']:.2f}x (target {g['target']}x)"
    return f"{state} {g['goal']}: {value}"


def best_of(mt: dict, libs: list[str]) -> set[str]:
    """The libraries among ``libs`` with the best median of metric ``mt`` (several on a tie)."""
    med = {lib: mt["results"][lib]["median"] for lib in libs if lib in mt["results"]}
    if not med:
        return set()
    top = (max if mt["better"] == "higher" else min)(med.values())
    return {lib for lib, v in med.items() if v == top}


def markdown(doc: dict) -> str:
    """The README table: metrics down, libraries across, minievent's advantage in parentheses.

    Bold is the best median of the row, whoever it is: minievent is not bolded where it loses.
    """
    libs = ["minievent"] + [p for p in PEERS if any(p in mt["libs"] for mt in doc["metrics"])]
    head = "| | " + " | ".join(libs) + " |"
    lines = [head, "|" + " --- |" * (len(libs) + 1)]
    for mt in doc["metrics"]:
        cells = []
        best = best_of(mt, libs)
        for lib in libs:
            r = mt["results"].get(lib)
            if r is None:
                cells.append("-")
                continue
            cell = fmt(r["median"])
            if lib in best:
                cell = f"**{cell}**"
            a = mt["advantage"].get(lib)
            cells.append(cell + (f" ({a:.2f})" if a is not None and lib != "minievent" else ""))
        arrow = "↑" if mt["better"] == "higher" else "↓"
        lines.append(f"| {mt['title']} ({mt['unit']} {arrow}) | " + " | ".join(cells) + " |")
    extra = []
    by_id = {mt["id"]: mt for mt in doc["metrics"]}
    sw = by_id.get("switch", {}).get("results", {})
    if "greenlet" in sw and "minievent" in sw:
        extra.append(
            f"- bare greenlet ceiling for `sleep(0)`: {fmt(sw['greenlet']['median'])}/s; minievent reaches "
            f"{sw['minievent']['median'] / sw['greenlet']['median']:.0%} of it."
        )
    for mid, what in (("switch", "`sleep(0)` switch rate"), ("echo100", "echo at 100 connections")):
        r = by_id.get(mid, {}).get("results", {})
        if "minievent+rec" in r and "minievent" in r:
            on, off = r["minievent+rec"]["median"], r["minievent"]["median"]
            extra.append(
                f"- recorder on (`with minievent.record():`), {what}: {fmt(on)} vs {fmt(off)} off = {on / off:.2f}x."
            )
    if doc.get("flight"):
        extra += ["", flight_markdown(doc["flight"])]
    return "\n".join(lines + [""] + extra)


def flight_text(flight: dict) -> str:
    """The flight recorder's cost (``benchmarks.flight_cost``): one line a case, the goal beside it."""
    out = [
        "the flight recorder, always on (python -m minievent flight), on/off: ratio of the medians of "
        f"{flight['runs']} runs each, the best runs' ratio beside it"
    ]
    for r in flight["rows"]:
        if "ratio" not in r:
            out.append(f"  {r['title']:<58} not measured: {'; '.join(r['errors'])}")
            continue
        wrote = f"  ({r['incidents']} incidents written)" if r["incidents"] else ""
        out.append(
            f"  {r['title']:<58} {r['ratio']:.3f}x (best {r['best_ratio']:.3f}x)  goal >= {r['goal']:g}x: "
            f"{'met' if r['ok'] else 'MISSED'}{wrote}"
        )
    return "\n".join(out)


def flight_markdown(flight: dict) -> str:
    """The same as a README table."""
    lines = [
        f"| always on, on/off (median of {flight['runs']}; best runs) | ratio | best | goal |",
        "| --- | --- | --- | --- |",
    ]
    for r in flight["rows"]:
        if "ratio" in r:
            mark = "" if r["ok"] else " (missed)"
            lines.append(f"| {r['title']} | {r['ratio']:.2f}x{mark} | {r['best_ratio']:.2f}x | >= {r['goal']:g}x |")
        else:
            lines.append(f"| {r['title']} | not measured | | >= {r['goal']:g}x |")
    return "\n".join(lines)


#: The chart's panels: related metrics share one, so a reader compares like with like.
GROUPS = [
    ("Switching and spawning", ["switch", "spawn"]),
    ("Timers: 10,000 sleepers", ["timers_p50", "timers_p99"]),
    ("Echo throughput", ["echo10", "echo100", "echo1000"]),
    ("Echo: the server's CPU per round trip", ["echo10_cpu", "echo100_cpu", "echo1000_cpu"]),
    ("Memory", ["mem_thread", "mem_conn"]),
    ("C10K: 10,000 connections", ["c10k_hb_p99", "c10k_burst_ms", "c10k_burst_hb_max"]),
]
#: One colour per library, the same in every panel.
LIB_COLORS = {
    "eventlet": "#9467bd",
    "gevent": "#2ca02c",
    "asyncio": "#8c564b",
    "uvloop": "#17becf",
    "threads": "#7f7f7f",
    "minievent+rec": "#bcbd22",
    "greenlet": "#e377c2",
}
#: The ratio axis, the same in every panel: minievent's advantage on a log scale.
RATIO_LIMITS = (1 / 16, 64)


def chart(doc: dict, path: Path) -> None:
    """One panel per group of metrics, one scale for all: minievent's advantage over each library.

    Every bar is one library in one metric, drawn from 1 (a tie with minievent)
    to minievent's advantage, the number in the README table's parentheses: to
    the right minievent did better, to the left that library did. The label
    gives the library's own median and the ratio; each metric's header gives
    minievent's median. Beyond the axis a bar is cut, and its label says so.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator, NullLocator

    metrics = {mt["id"]: mt for mt in doc["metrics"] if mt["results"]}
    grouped = {i for _, ids in GROUPS for i in ids}
    groups = [(title, [metrics[i] for i in ids if i in metrics]) for title, ids in GROUPS]
    groups.append(("Other", [mt for i, mt in metrics.items() if i not in grouped]))
    groups = [(t, mts) for t, mts in groups if any(mt["advantage"] for mt in mts)]
    cols = 2 if len(groups) > 1 else 1
    nrows = -(-len(groups) // cols)
    sizes = [sum(1 + len(mt["advantage"]) for mt in mts) for _, mts in groups]
    row_h = max(sizes) * 0.27 + 1.3
    fig, axes = plt.subplots(nrows, cols, figsize=(9 * cols, row_h * nrows + 1.2), squeeze=False)
    lo, hi = RATIO_LIMITS
    for ax, (title, mts) in zip(axes.flat, groups, strict=False):
        y = 0
        for mt in mts:
            me = mt["results"].get("minievent")
            arrow = "higher" if mt["better"] == "higher" else "lower"
            head = f"{mt['title']} ({mt['unit']}, {arrow} is better)"
            if me is not None:
                head += f": minievent {fmt(me['median'])}"
            ax.text(
                lo * 1.08,
                y,
                head,
                va="center",
                ha="left",
                fontsize=10,
                fontweight="bold",
                bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1},
            )
            y += 1
            for lib, adv in mt["advantage"].items():
                shown = min(max(adv, lo), hi)
                ax.barh(
                    y,
                    abs(shown - 1),
                    left=min(shown, 1),
                    height=0.75,
                    color=LIB_COLORS.get(lib, "#4a7ab5"),
                    hatch="//" if lib == "greenlet" else None,
                )
                text = f" {label(lib)} {fmt(mt['results'][lib]['median'])} ({adv:.2f}) "
                if shown != adv:  # cut at the axis: the label goes inside the bar, and says so
                    ax.text(
                        shown,
                        y,
                        text.rstrip() + ", off the axis ",
                        va="center",
                        ha="right" if adv > 1 else "left",
                        fontsize=9,
                        color="white",
                        fontweight="bold",
                    )
                else:
                    ax.text(shown, y, text, va="center", ha="left" if adv >= 1 else "right", fontsize=9)
                y += 1
        ax.axvline(1, color="black", linewidth=1)
        ax.axvspan(lo, 1, color="#fbe9e7", zorder=0)
        ax.axvspan(1, hi, color="#e8f5e9", zorder=0)
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ticks = [lo, 1 / 4, 1, 4, 16, hi]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"1/{round(1 / t)}" if t < 1 else f"{t:g}" for t in ticks])
        ax.set_ylim(y - 0.4, -0.6)
        ax.set_yticks([])
        ax.set_title(title, fontsize=12, fontweight="bold", loc="left")
        ax.set_xlabel(
            "minievent's advantage: < 1 that library did better, > 1 minievent did better (log scale)", fontsize=9
        )
        ax.tick_params(axis="x", labelsize=9)
        ax.grid(axis="x", alpha=0.4)
    for ax in list(axes.flat)[len(groups) :]:
        ax.axis("off")
    m = doc["machine"]
    fig.suptitle(
        f"minievent against each library: how many times better minievent did, median of {doc['runs']} "
        f"run(s) (size {doc['size']}; {m['nproc']} cores, {m['cpu']}, Python {m['python']})",
        fontsize=12,
    )
    present = {lib for _, mts in groups for mt in mts for lib in mt["advantage"]}
    legend = [
        Patch(facecolor=c, hatch="//" if lib == "greenlet" else None, label=label(lib))
        for lib, c in LIB_COLORS.items()
        if lib in present
    ]
    fig.legend(handles=legend, loc="lower center", ncol=len(legend), fontsize=10, frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    fig.savefig(path, dpi=72)
    plt.close(fig)
