#!/usr/bin/env python3
"""Compile-time benchmark of `llpar -O2 --emit=obj` against the serial reference and the peers.

For each module of the corpus (target/corpus/{sqlite3,lua,regex}.bc by default), in one
invocation, it compiles the module to an object file with:
  - the serial reference, `opt -O2 | llc -O2` (scripts/peers/serial.sh IN OUT);
  - the naive peer (naive.sh IN OUT J: llvm-split, opt + llc per part) at J threads;
  - the ThinLTO peer (thin.sh IN OUT J) at J threads;
  - `llpar -O2 --emit=obj -jN --stats` for every N of --jobs (default 1 to the core count);
J is --peer-jobs (default: the largest N of --jobs). A peer whose script is missing is skipped.

The runs are interleaved: round r runs every configuration of every module once, then round
r+1 starts, so that drifts in machine load hit all configurations alike. The figures reported are
medians over the --runs rounds:
  - wall time: time.perf_counter() around the child process;
  - CPU time: user + system time of the children, the difference of os.times() around the run
    (it includes every descendant the child waited for: both stages of a shell pipeline, the
    parts a peer runs in parallel; llpar's worker threads are part of its own process);
  - peak memory: ru_maxrss of the rusage that os.wait4() returns for the child. For llpar this is
    the process's own peak. For the peers, which run through bash, it is the largest peak of any
    single process of the run (the maximum child RSS, not the sum over processes that run at the
    same time, so naive.sh's parallel parts count as one part). The cumulative
    getrusage(RUSAGE_CHILDREN) maximum is not used: it never goes down from one run to the next.
Ratios are to the serial reference of the same module: speedup = serial wall / wall,
CPU ratio = CPU / serial CPU, memory ratio = peak / serial peak.

Scaling prediction: with --stats llpar prints the wall time predicted at 1, 2, 4, ..., 64 workers
from the chunk times it measured in that run, and the chunk on the critical path. The suite
reports, per module, the median 16-worker prediction made from the -j1 runs (in ms, and as a
speedup over the measured llpar -j1 wall time and over the serial reference) next to the
measured -j2 figure, and checks the prediction against measurement both ways:
  - the 2-worker prediction made from the -j1 runs against the measured -j2 median;
  - the 1-worker prediction made from the -j2 runs against the measured -j1 median;
relative error = |predicted - measured| / measured, PASS when it is at most --tolerance (15%).
With --check the exit status is 1 when a check fails (the checks need 1 and 2 in --jobs).

Every output object is checked after its run (exists, is a relocatable ELF object); a command
that fails is printed with its stderr and the suite exits with status 1.

Outputs: a markdown report on stdout and in --markdown, every raw run and the medians as JSON in
--json, and a speedup plot (SVG, no plotting library needed) in --plot. The machine (CPU model,
core count, memory, LLVM version, date) heads the markdown and is recorded in the JSON.

Debug info: for every module M run together with M-g (the same source built with -g), the report
compares llpar's speedup over serial at each -j with and without debug info (the ratio of the
two speedups, 1.00 = debug info costs llpar nothing more than it costs the serial tools).

usage: bench_suite.py [--modules sqlite3,sqlite3-g,lua,lua-g,regex,rustprog] [--runs R] [--jobs 1,2,...] [--peer-jobs J]
                      [--markdown FILE] [--json FILE] [--plot FILE] [--tolerance F] [--check]
"""
import argparse, datetime, json, math, os, platform, re, statistics, subprocess, sys, tempfile, time
from xml.sax.saxutils import escape

from paths import ROOT, VERSION, BIN, LLPAR, CORPUS  # noqa: E402
PEERS = os.environ.get("LLPAR_PEERS", os.path.join(ROOT, "scripts", "peers"))
BENCH = os.path.join(ROOT, "target", "bench")

PREDICTION_LINE = re.compile(r"predicted wall time by workers \(from this run's chunk times\): (.*)$", re.M)
PREDICTION_ITEM = re.compile(r"(\d+): ([0-9.]+) ms")
CRITICAL_LINE = re.compile(r"critical path: (.*), ([0-9.]+) ms\s*$", re.M)
PLOT_WORKERS = 16  # the prediction is drawn and reported up to this many workers


def fail(msg):
    print(f"bench_suite.py: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        llvm = subprocess.run([f"{BIN}/llvm-config", "--version"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        llvm = VERSION
    try:
        commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "cpu": cpu, "nproc": os.cpu_count(), "memory_gib": mem_gib, "llvm": llvm,
        "kernel": platform.release(), "llpar_commit": commit,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def check_object(path, cmd):
    """The output must exist and be a non-empty relocatable ELF object."""
    if not os.path.exists(path):
        fail(f"{' '.join(cmd)}: exited 0 but wrote no {path}")
    with open(path, "rb") as f:
        head = f.read(18)
    if len(head) < 18 or head[:4] != b"\x7fELF":
        fail(f"{' '.join(cmd)}: {path} is not an ELF object ({os.path.getsize(path)} bytes)")
    byteorder = "little" if head[5] == 1 else "big"
    if int.from_bytes(head[16:18], byteorder) != 1:  # ET_REL
        fail(f"{' '.join(cmd)}: {path} is not a relocatable object")


def measure(cmd, out, tmp):
    """Runs cmd, which writes the object `out`; returns (wall s, cpu s, peak MiB, stderr)."""
    if os.path.exists(out):
        os.remove(out)
    with tempfile.TemporaryFile(dir=tmp) as err:  # a file, not a pipe: nothing can block on it
        before = os.times()
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        except OSError as e:
            fail(f"{' '.join(cmd)}: cannot run: {e}")
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        after = os.times()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if proc.returncode != 0:
        fail(f"{' '.join(cmd)} failed (exit status {proc.returncode}):\n{stderr}")
    check_object(out, cmd)
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, usage.ru_maxrss / 1024.0, stderr


def parse_stats(stderr):
    predicted, critical = None, None
    m = PREDICTION_LINE.search(stderr)
    if m:
        predicted = {int(w): float(ms) for w, ms in PREDICTION_ITEM.findall(m.group(1))}
    m = CRITICAL_LINE.search(stderr)
    if m:
        critical = {"chunk": m.group(1), "ms": float(m.group(2))}
    return predicted, critical


def configurations(bc, tmp, module, jobs, peer_jobs):
    """name -> (threads, kind, command, output path)."""
    confs = {}
    out = os.path.join(tmp, f"{module}-serial.o")
    confs["serial"] = (1, "serial", ["bash", os.path.join(PEERS, "serial.sh"), bc, out], out)
    for peer in ("naive", "thin"):
        script = os.path.join(PEERS, f"{peer}.sh")
        if os.path.exists(script):
            out = os.path.join(tmp, f"{module}-{peer}.o")
            confs[f"{peer} -j{peer_jobs}"] = (peer_jobs, peer, ["bash", script, bc, out, str(peer_jobs)], out)
        else:
            print(f"bench_suite.py: {script} not found, {peer} peer skipped", file=sys.stderr)
    for n in jobs:
        out = os.path.join(tmp, f"{module}-llpar{n}.o")
        confs[f"llpar -j{n}"] = (n, "llpar", [LLPAR, "-O2", "--emit=obj", f"-j{n}", "--stats", bc, "-o", out], out)
    return confs


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def median_prediction(runs):
    """Per worker count, the median of the predictions of these runs."""
    preds = [r["predicted_ms"] for r in runs if r["predicted_ms"]]
    if not preds:
        return None
    workers = sorted(set.intersection(*(set(p) for p in preds)))
    return {w: statistics.median(p[w] for p in preds) for w in workers}


# ---------------------------------------------------------------------------------------------
# SVG plot

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def nice_step(span, target_ticks=6):
    raw = span / target_ticks
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def marker(shape, x, y, color, tip, size=5.0):
    t = f"<title>{escape(tip)}</title>"
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size - 1:.1f}" fill="{color}">{t}</circle>'
    if shape == "hollow":
        return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size - 2:.1f}" fill="white" stroke="{color}" '
                f'stroke-width="1.5">{t}</circle>')
    if shape == "square":
        return (f'<rect x="{x - size:.1f}" y="{y - size:.1f}" width="{2 * size:.1f}" height="{2 * size:.1f}" '
                f'fill="white" stroke="{color}" stroke-width="2">{t}</rect>')
    if shape == "triangle":
        pts = f"{x:.1f},{y - size - 1:.1f} {x - size - 1:.1f},{y + size:.1f} {x + size + 1:.1f},{y + size:.1f}"
        return f'<polygon points="{pts}" fill="{color}" stroke="{color}" stroke-width="1">{t}</polygon>'
    raise ValueError(shape)


def svg_plot(series, mach, runs):
    """series: per module {"llpar": [(n, speedup)], "peers": [(kind, J, speedup)], "predicted": [(w, speedup)]}."""
    width, height = 960, 580
    left, right, top, bottom = 75, 250, 78, 62
    pw, ph = width - left - right, height - top - bottom
    xs, ys = [1], [1.0]
    for s in series.values():
        xs += [n for n, _ in s["llpar"]] + [j for _, j, _ in s["peers"]] + [w for w, _ in s["predicted"]]
        ys += [v for _, v in s["llpar"]] + [v for _, _, v in s["peers"]] + [v for _, v in s["predicted"]]
    xmax = max(xs + [2])
    ystep = nice_step(max(ys) * 1.08)
    ymax = ystep * (int(max(ys) * 1.08 / ystep) + 1)
    xstep = 1 if xmax <= 16 else nice_step(xmax, 12)

    def px(x):
        return left + (x - 0.5) / (xmax + 0.5 - 0.5) * pw if xmax > 1 else left + pw / 2

    def py(y):
        return top + ph - y / ymax * ph

    el = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
          f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
          f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>']
    title = "llpar -O2 --emit=obj: speedup over the serial reference (opt -O2 | llc -O2)"
    sub = (f"{mach['cpu']}, {mach['nproc']} cores, {mach['memory_gib']} GiB, LLVM {mach['llvm']}; "
           f"medians of {runs} run(s), {mach['date'][:10]}")
    el.append(f'<text x="{width / 2:.0f}" y="28" text-anchor="middle" font-size="16" font-weight="bold">'
              f'{escape(title)}</text>')
    el.append(f'<text x="{width / 2:.0f}" y="50" text-anchor="middle" font-size="12" fill="#444">{escape(sub)}</text>')
    # grid and ticks
    y = 0.0
    while y <= ymax + 1e-9:
        yy = py(y)
        el.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" stroke="#e5e5e5"/>')
        el.append(f'<line x1="{left - 5}" y1="{yy:.1f}" x2="{left}" y2="{yy:.1f}" stroke="black"/>')
        label = f"{y:g}" if ystep >= 1 else f"{y:.2f}".rstrip("0").rstrip(".")
        el.append(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end">{label}</text>')
        y += ystep
    x = 1
    while x <= xmax:
        xx = px(x)
        el.append(f'<line x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{top + ph}" stroke="#f0f0f0"/>')
        el.append(f'<line x1="{xx:.1f}" y1="{top + ph}" x2="{xx:.1f}" y2="{top + ph + 5}" stroke="black"/>')
        el.append(f'<text x="{xx:.1f}" y="{top + ph + 19}" text-anchor="middle">{x}</text>')
        x += xstep
    # the serial reference
    el.append(f'<line x1="{left}" y1="{py(1):.1f}" x2="{left + pw}" y2="{py(1):.1f}" stroke="#888" '
              f'stroke-dasharray="2,3"/>')
    el.append(f'<text x="{left + pw - 4}" y="{py(1) - 5:.1f}" text-anchor="end" fill="#666" font-size="11">'
              f'serial reference = 1</text>')
    # axes
    el.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>')
    el.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>')
    el.append(f'<text x="{left + pw / 2:.0f}" y="{height - 18}" text-anchor="middle" font-size="13">'
              f'threads (llpar -jN; peers at J; prediction: workers)</text>')
    el.append(f'<text x="20" y="{top + ph / 2:.0f}" text-anchor="middle" font-size="13" '
              f'transform="rotate(-90 20 {top + ph / 2:.0f})">speedup over opt -O2 | llc -O2 (wall time)</text>')
    # data
    for i, (module, s) in enumerate(series.items()):
        c = COLORS[i % len(COLORS)]
        if s["predicted"]:
            pts = " ".join(f"{px(w):.1f},{py(v):.1f}" for w, v in s["predicted"])
            el.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="1.5" '
                      f'stroke-dasharray="6,4" opacity="0.85"/>')
            for w, v in s["predicted"]:
                el.append(marker("hollow", px(w), py(v), c, f"{module}: predicted from -j1, {w} workers: {v:.2f}x"))
        if s["llpar"]:
            pts = " ".join(f"{px(n):.1f},{py(v):.1f}" for n, v in s["llpar"])
            el.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2.2"/>')
            for n, v in s["llpar"]:
                el.append(marker("circle", px(n), py(v), c, f"{module}: llpar -j{n}: {v:.2f}x"))
        for kind, j, v in s["peers"]:
            el.append(marker("square" if kind == "naive" else "triangle", px(j), py(v), c,
                             f"{module}: {kind} -j{j}: {v:.2f}x"))
    # legend
    lx, ly = left + pw + 22, top + 6
    el.append(f'<rect x="{lx - 10}" y="{ly - 14}" width="{right - 24}" '
              f'height="{28 + 20 * (len(series) + 5)}" fill="white" stroke="#bbb"/>')
    el.append(f'<text x="{lx}" y="{ly + 2}" font-weight="bold">module</text>')
    ly += 20
    for i, module in enumerate(series):
        c = COLORS[i % len(COLORS)]
        el.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 28}" y2="{ly - 4}" stroke="{c}" stroke-width="2.2"/>')
        el.append(marker("circle", lx + 14, ly - 4, c, module))
        el.append(f'<text x="{lx + 38}" y="{ly}">{escape(module)}</text>')
        ly += 20
    ly += 6
    el.append(f'<text x="{lx}" y="{ly}" font-weight="bold">configuration</text>')
    ly += 20
    grey = "#555"
    el.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 28}" y2="{ly - 4}" stroke="{grey}" stroke-width="2.2"/>')
    el.append(marker("circle", lx + 14, ly - 4, grey, "llpar"))
    el.append(f'<text x="{lx + 38}" y="{ly}">llpar -jN (measured)</text>')
    ly += 20
    el.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 28}" y2="{ly - 4}" stroke="{grey}" stroke-width="1.5" '
              f'stroke-dasharray="6,4"/>')
    el.append(marker("hollow", lx + 14, ly - 4, grey, "prediction"))
    el.append(f'<text x="{lx + 38}" y="{ly}">predicted from -j1</text>')
    ly += 20
    el.append(marker("square", lx + 14, ly - 4, grey, "naive"))
    el.append(f'<text x="{lx + 38}" y="{ly}">naive.sh (split, opt+llc)</text>')
    ly += 20
    el.append(marker("triangle", lx + 14, ly - 4, grey, "thin"))
    el.append(f'<text x="{lx + 38}" y="{ly}">thin.sh (ThinLTO backends)</text>')
    el.append("</svg>")
    return "\n".join(el) + "\n"


# ---------------------------------------------------------------------------------------------

def parse_jobs(text):
    try:
        jobs = sorted({int(j) for j in text.split(",") if j.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of thread counts: {text!r}")
    if not jobs or jobs[0] < 1:
        raise argparse.ArgumentTypeError("thread counts must be at least 1")
    return jobs


def debug_info_section(medians, modules, jobs):
    """Speedup over serial with -g against without, for every module M run with M-g."""
    speedup = {(v["module"], v["config"]): v["speedup"] for v in medians}
    pairs = [m for m in modules if f"{m}-g" in modules]
    lines = ["", "## Debug info: speedup over serial with -g, against without", "",
             "| module | configuration | speedup without -g | speedup with -g | with / without |",
             "|---|---|---:|---:|---:|"]
    for m in pairs:
        for n in jobs:
            conf = f"llpar -j{n}"
            plain, debug = speedup.get((m, conf)), speedup.get((f"{m}-g", conf))
            if plain and debug:
                lines.append(f"| {m} | {conf} | {plain:.2f}x | {debug:.2f}x | {debug / plain:.2f} |")
    return lines if pairs else []


def main():
    nproc = os.cpu_count() or 1
    ap = argparse.ArgumentParser(
        description="Compile-time benchmark of llpar -O2 --emit=obj against the serial reference "
                    "(opt -O2 | llc -O2) and the naive and ThinLTO peers: wall time, CPU time and peak "
                    "memory (medians of interleaved runs), llpar's scaling prediction checked against "
                    "measurement; writes a markdown report, the raw runs as JSON and a speedup plot (SVG).",
        epilog="Peers come from $LLPAR_PEERS (default scripts/peers). See the module docstring for how "
               "each figure is measured.")
    ap.add_argument("--modules", default="sqlite3,sqlite3-g,lua,lua-g,regex,rustprog",
                    help="comma-separated modules of target/corpus (NAME.bc) (default: %(default)s)")
    ap.add_argument("--runs", type=int, default=3, help="rounds; medians are reported (default: %(default)s)")
    ap.add_argument("--jobs", type=parse_jobs, default=list(range(1, nproc + 1)),
                    help=f"comma-separated llpar thread counts (default: 1 to the core count, here 1..{nproc})")
    ap.add_argument("--peer-jobs", type=int, default=None,
                    help="J for naive.sh and thin.sh (default: the largest of --jobs)")
    ap.add_argument("--markdown", default=os.path.join(BENCH, "bench.md"),
                    help="markdown report (default: target/bench/bench.md)")
    ap.add_argument("--json", default=os.path.join(BENCH, "bench.json"),
                    help="raw runs, medians, predictions, checks and machine (default: target/bench/bench.json)")
    ap.add_argument("--plot", default=os.path.join(BENCH, "speedup.svg"),
                    help="speedup plot, SVG (default: target/bench/speedup.svg)")
    ap.add_argument("--tolerance", type=float, default=0.15,
                    help="largest relative error of a scaling prediction that passes (default: %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="exit with status 1 when a prediction check fails (needs 1 and 2 in --jobs)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    peer_jobs = args.peer_jobs or max(args.jobs)
    if peer_jobs < 1:
        ap.error("--peer-jobs must be at least 1")
    if args.check and not {1, 2} <= set(args.jobs):
        ap.error("--check compares -j1 and -j2: --jobs must contain 1 and 2")
    modules = [m for m in args.modules.split(",") if m]
    for m in modules:
        if not os.path.exists(os.path.join(CORPUS, f"{m}.bc")):
            ap.error(f"no module {m}: {os.path.join(CORPUS, m + '.bc')} does not exist (scripts/build-corpus.sh)")
    for tool in (LLPAR, os.path.join(PEERS, "serial.sh")):
        if not os.path.exists(tool):
            fail(f"{tool} not found")

    mach = machine()
    print(f"bench_suite.py: {mach['cpu']}, {mach['nproc']} cores, LLVM {mach['llvm']}; modules {','.join(modules)}, "
          f"llpar -j{','.join(map(str, args.jobs))}, peers -j{peer_jobs}, {args.runs} round(s)", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="llpar-bench-") as tmp:
        confs = {m: configurations(os.path.join(CORPUS, f"{m}.bc"), tmp, m, args.jobs, peer_jobs) for m in modules}
        raw = []
        for r in range(args.runs):  # interleaved: every configuration of every module once per round
            for m in modules:
                for name, (threads, kind, cmd, out) in confs[m].items():
                    wall, cpu, rss, stderr = measure(cmd, out, tmp)
                    predicted, critical = parse_stats(stderr) if kind == "llpar" else (None, None)
                    if kind == "llpar" and predicted is None:
                        print(f"bench_suite.py: warning: no prediction in the --stats of {' '.join(cmd)}",
                              file=sys.stderr)
                    raw.append({"module": m, "config": name, "kind": kind, "threads": threads, "round": r + 1,
                                "command": cmd, "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
                                "peak_mib": round(rss, 1), "object_bytes": os.path.getsize(out),
                                "predicted_ms": predicted, "critical_path": critical})
                    print(f"  round {r + 1}/{args.runs} {m:8} {name:12} wall {wall:7.2f} s  cpu {cpu:7.2f} s  "
                          f"peak {rss:7.0f} MiB", file=sys.stderr, flush=True)

    # medians
    medians, predictions, checks, series = [], [], [], {}
    for m in modules:
        by_conf = {name: [x for x in raw if x["module"] == m and x["config"] == name] for name in confs[m]}
        med = {}
        for name, runs in by_conf.items():
            threads, kind = confs[m][name][0], confs[m][name][1]
            med[name] = {"module": m, "config": name, "kind": kind, "threads": threads, "runs": len(runs),
                         "wall_s": statistics.median(x["wall_s"] for x in runs),
                         "cpu_s": statistics.median(x["cpu_s"] for x in runs),
                         "peak_mib": statistics.median(x["peak_mib"] for x in runs)}
        base = med["serial"]
        for v in med.values():
            v["speedup"] = base["wall_s"] / v["wall_s"]
            v["cpu_ratio"] = v["cpu_s"] / base["cpu_s"] if base["cpu_s"] else None
            v["memory_ratio"] = v["peak_mib"] / base["peak_mib"] if base["peak_mib"] else None
            medians.append(v)

        pred_from = {n: median_prediction(by_conf[f"llpar -j{n}"]) for n in args.jobs}
        crit = [x["critical_path"] for x in by_conf.get("llpar -j1", []) if x["critical_path"]]
        j1 = med.get("llpar -j1")
        j2 = med.get("llpar -j2")
        p1 = pred_from.get(1)
        pred = {"module": m, "predicted_ms_from_j1": p1,
                "predicted_ms_from": {str(n): p for n, p in pred_from.items()},
                "critical_path_from_j1": (
                    {"chunk": crit[0]["chunk"], "ms": statistics.median(c["ms"] for c in crit)} if crit else None),
                "measured_j1_wall_s": j1["wall_s"] if j1 else None,
                "measured_j2_wall_s": j2["wall_s"] if j2 else None,
                "serial_wall_s": base["wall_s"]}
        if p1 and PLOT_WORKERS in p1:
            p16 = p1[PLOT_WORKERS] / 1000.0
            pred["predicted_16_s"] = p16
            pred["predicted_16_speedup_vs_j1"] = j1["wall_s"] / p16 if j1 else None
            pred["predicted_16_speedup_vs_serial"] = base["wall_s"] / p16
        predictions.append(pred)
        # checks, both ways
        for made_from, target in ((1, 2), (2, 1)):
            p = pred_from.get(made_from)
            measured = med.get(f"llpar -j{target}")
            if not p or target not in p or not measured:
                continue
            predicted_s = p[target] / 1000.0
            error = abs(predicted_s - measured["wall_s"]) / measured["wall_s"]
            checks.append({"module": m, "made_from": f"llpar -j{made_from}", "workers": target,
                           "predicted_s": predicted_s, "measured_s": measured["wall_s"],
                           "relative_error": error, "pass": error <= args.tolerance})
        series[m] = {
            "llpar": [(n, med[f"llpar -j{n}"]["speedup"]) for n in args.jobs],
            "peers": [(med[name]["kind"], med[name]["threads"], med[name]["speedup"])
                      for name in med if med[name]["kind"] in ("naive", "thin")],
            "predicted": ([(w, base["wall_s"] / (ms / 1000.0)) for w, ms in sorted(p1.items())
                           if w <= PLOT_WORKERS and ms > 0] if p1 else []),
        }

    # markdown
    f2 = lambda v, fmt: (fmt.format(v) if v is not None else "-")
    lines = ["# llpar -O2 --emit=obj compile-time benchmark", "",
             f"- machine: {mach['cpu']}, {mach['nproc']} cores, {mach['memory_gib']} GiB memory, "
             f"Linux {mach['kernel']}",
             f"- LLVM {mach['llvm']}; llpar {mach['llpar_commit'] or '(unknown commit)'}; {mach['date']}",
             f"- medians of {args.runs} interleaved run(s); serial reference = `opt -O2 | llc -O2` (serial.sh); "
             f"peers at J={peer_jobs}; peak memory of a pipeline is its largest single process", "",
             "| module | configuration | threads | wall s | speedup | CPU s | CPU ratio | peak MiB | memory ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for v in medians:
        lines.append(f"| {v['module']} | {v['config']} | {v['threads']} | {v['wall_s']:.2f} | {v['speedup']:.2f}x | "
                     f"{v['cpu_s']:.2f} | {f2(v['cpu_ratio'], '{:.2f}')} | {v['peak_mib']:.0f} | "
                     f"{f2(v['memory_ratio'], '{:.2f}')} |")
    lines += ["", f"## Scaling prediction ({PLOT_WORKERS} workers, from the -j1 runs' chunk times)", "",
              f"| module | llpar -j1 s | predicted {PLOT_WORKERS} workers ms | speedup vs -j1 | speedup vs serial |"
              " measured -j2 s | -j2 speedup vs serial | critical path (from -j1) |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]
    for p in predictions:
        crit = p["critical_path_from_j1"]
        crit_text = f"{crit['chunk']}, {crit['ms']:.0f} ms".replace("|", "\\|") if crit else "-"
        j2s = p["measured_j2_wall_s"]
        lines.append(
            f"| {p['module']} | {f2(p['measured_j1_wall_s'], '{:.2f}')} | "
            f"{f2(p.get('predicted_16_s') and p['predicted_16_s'] * 1000, '{:.0f}')} | "
            f"{f2(p.get('predicted_16_speedup_vs_j1'), '{:.2f}x')} | "
            f"{f2(p.get('predicted_16_speedup_vs_serial'), '{:.2f}x')} | {f2(j2s, '{:.2f}')} | "
            f"{f2(j2s and p['serial_wall_s'] / j2s, '{:.2f}x')} | {crit_text} |")
    lines += ["", f"## Prediction checks (relative error <= {args.tolerance:.0%})", "",
              "| module | prediction made from | workers | predicted s | measured s | error | verdict |",
              "|---|---|---:|---:|---:|---:|---|"]
    for c in checks:
        lines.append(f"| {c['module']} | {c['made_from']} | {c['workers']} | {c['predicted_s']:.2f} | "
                     f"{c['measured_s']:.2f} | {c['relative_error']:.1%} | {'PASS' if c['pass'] else 'FAIL'} |")
    if not checks:
        lines.append("| - | (needs llpar -j1 and -j2 runs with predictions) | | | | | |")
    lines += debug_info_section(medians, modules, args.jobs)
    markdown = "\n".join(lines) + "\n"
    print(markdown, end="")

    for path in (args.markdown, args.json, args.plot):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(args.markdown, "w") as f:
        f.write(markdown)
    with open(args.json, "w") as f:
        json.dump({"machine": mach,
                   "options": {"modules": modules, "runs": args.runs, "jobs": args.jobs, "peer_jobs": peer_jobs,
                               "tolerance": args.tolerance},
                   "runs": raw, "medians": medians, "predictions": predictions, "checks": checks}, f, indent=1)
    with open(args.plot, "w") as f:
        f.write(svg_plot(series, mach, args.runs))
    print(f"\nwrote {args.markdown}, {args.json}, {args.plot}", file=sys.stderr)

    failed = [c for c in checks if not c["pass"]]
    for c in failed:
        print(f"bench_suite.py: prediction check FAILED: {c['module']}, {c['workers']} worker(s) from "
              f"{c['made_from']}: predicted {c['predicted_s']:.2f} s, measured {c['measured_s']:.2f} s "
              f"({c['relative_error']:.1%} off)", file=sys.stderr)
    if args.check and (failed or not checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
