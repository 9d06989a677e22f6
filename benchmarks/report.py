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


def markdown(doc: dict) -> str:
    """The README table: metrics down, libraries across, minievent's advantage in parentheses."""
    libs = ["minievent"] + [p for p in PEERS if any(p in mt["libs"] for mt in doc["metrics"])]
    head = "| | " + " | ".join(libs) + " |"
    lines = [head, "|" + " --- |" * (len(libs) + 1)]
    for mt in doc["metrics"]:
        cells = []
        for lib in libs:
            r = mt["results"].get(lib)
            if r is None:
                cells.append("-")
            elif lib == "minievent":
                cells.append(f"**{fmt(r['median'])}**")
            else:
                a = mt["advantage"].get(lib)
                cells.append(fmt(r["median"]) + (f" ({a:.2f})" if a is not None else ""))
        arrow = "↑" if mt["better"] == "higher" else "↓"
        lines.append(f"| {mt['title']} ({mt['unit']} {arrow}) | " + " | ".join(cells) + " |")
    extra = []
    by_id = {mt["id"]: mt for mt in doc["metrics"]}
    sw = by_id.get("switch", {}).get("results", {})
    if "greenlet" in sw and "minievent" in sw:
        extra.append(f"- bare greenlet ceiling for `sleep(0)`: {fmt(sw['greenlet']['median'])}/s; minievent reaches "
                     f"{sw['minievent']['median'] / sw['greenlet']['median']:.0%} of it.")
    for mid, what in (("switch", "`sleep(0)` switch rate"), ("echo100", "echo at 100 connections")):
        r = by_id.get(mid, {}).get("results", {})
        if "minievent+rec" in r and "minievent" in r:
            on, off = r["minievent+rec"]["median"], r["minievent"]["median"]
            extra.append(f"- recorder on (`with minievent.record():`), {what}: {fmt(on)} vs {fmt(off)} off "
                         f"= {on / off:.2f}x.")
    return "\n".join(lines + [""] + extra)


def chart(doc: dict, path: Path) -> None:
    """One small bar panel per metric, minievent in orange, so its place is seen at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    metrics = [mt for mt in doc["metrics"] if mt["results"]]
    cols = 4
    rows = (len(metrics) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 2.9 * rows), squeeze=False)
    colors = {"minievent": "#e8710a", "minievent+rec": "#f6b26b", "greenlet": "#bbbbbb", "threads": "#8e8e8e"}
    for ax, mt in zip(axes.flat, metrics, strict=False):
        libs = [lib for lib in mt["libs"] if lib in mt["results"]][::-1]  # minievent on top
        med = [mt["results"][lib]["median"] for lib in libs]
        lo = [m - mt["results"][lib]["min"] for lib, m in zip(libs, med, strict=True)]
        hi = [mt["results"][lib]["max"] - m for lib, m in zip(libs, med, strict=True)]
        bars = ax.barh(range(len(libs)), med, xerr=[lo, hi], color=[colors.get(lib, "#4a7ab5") for lib in libs],
                       error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#333333"})
        for lib, b in zip(libs, bars, strict=True):
            if lib == "greenlet":
                b.set_hatch("//")
        ax.set_yticks(range(len(libs)))
        ax.set_yticklabels([label(lib) for lib in libs], fontsize=8)
        positive = [v for v in med if v > 0]
        if positive and max(positive) / min(positive) > 30:
            ax.set_xscale("log")
        for i, (v, up) in enumerate(zip(med, hi, strict=True)):
            ax.text(v + up, i, "  " + fmt(v), va="center", fontsize=7)  # past the error bar
        ax.set_xlim(right=ax.get_xlim()[1] * (3 if ax.get_xscale() == "log" else 1.25))
        arrow = "higher is better →" if mt["better"] == "higher" else "← lower is better"
        ax.set_title(f"{mt['title']}\n{mt['unit']}, {arrow}", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v) if v else "0"))
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    m = doc["machine"]
    fig.suptitle(f"minievent vs eventlet, gevent, asyncio, uvloop, threads: median of {doc['runs']} run(s), "
                 f"bars min..max (size {doc['size']}; {m['nproc']} cores, {m['cpu']}, Python {m['python']})",
                 fontsize=10)
    legend = [Patch(color=colors["minievent"], label="minievent"),
              Patch(color=colors["minievent+rec"], label="minievent inside minievent.record()"),
              Patch(color="#4a7ab5", label="eventlet, gevent, asyncio, uvloop"),
              Patch(color=colors["threads"], label="native threads"),
              Patch(facecolor=colors["greenlet"], hatch="//", label="bare greenlet switches (ceiling)")]
    fig.legend(handles=legend, loc="lower center", ncol=len(legend), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=72)
    plt.close(fig)
