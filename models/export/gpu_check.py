#!/usr/bin/env python3
"""Exporter check for PyTorch 2.x on a GPU host (issue #3), run with a plain `python3`.

Stages (each writes its results into <out>/gpu_check.json as soon as it ends):
  tiny_export  the tiny config exported with this torch (fp32, CPU); onnxruntime (Python) replays the
               committed fixtures models/tiny/reference/graphs (<= case tolerance, 1e-4); reports
               whether the .onnx bytes equal the committed models/tiny ones (informative only)
  test_export  every self-test of test_export.py, with the onnxruntime-node parts replayed by
               Python onnxruntime instead (same cases, same tolerances)
  real_width   a random one-layer checkpoint at the real widths (vocab 152064 unless --vocab),
               exported by the export.py CLI with --dtype fp16 --device <device>, onnx.checker
               full_check + manifest I/O/sha256 (check_bundle), graph I/O names/dtypes/shapes in
               onnxruntime == manifest, and every graph case run in onnxruntime (CPU) against the
               fp16 PyTorch modules on <device> (max abs diff / max |reference| <= 3e-3)

    PYTHONUNBUFFERED=1 python3 models/export/gpu_check.py --out DIR [--device cuda] [--vocab N]
    /usr/bin/python3 models/export/gpu_check.py --out DIR --device cpu --small   # dry run, tiny widths

Without Python onnxruntime (Debian torch 1.13 here) the onnxruntime comparisons are skipped
with a message; everything else runs.
"""
import argparse
import glob
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import onnx  # noqa: E402

try:
    import onnxruntime as ort
    ORT_ERROR = None
except Exception as e:  # noqa: BLE001
    ort = None
    ORT_ERROR = f"{type(e).__name__}: {e}"

T0 = time.time()
SUMMARY = {"ok": None, "stages": {}}
OUT = None
FP16_REL_TOL = 3e-3
FP16_ABS_TOL = 0.25  # what check_real_width.py allows per element


def log(msg):
    print(f"[gpu_check {time.time() - T0:7.1f}s rss {peak_rss_gib():.2f} GiB] {msg}", flush=True)


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def children_rss_gib():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20


def cuda_peak_gib():
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def save_summary():
    SUMMARY["elapsed_s"] = round(time.time() - T0, 1)
    SUMMARY["peak_rss_gib"] = round(peak_rss_gib(), 2)
    SUMMARY["children_peak_rss_gib"] = round(children_rss_gib(), 2)
    SUMMARY["cuda_peak_gib"] = cuda_peak_gib()
    with open(os.path.join(OUT, "gpu_check.json"), "w") as f:
        json.dump(SUMMARY, f, indent=1, default=str)
        f.write("\n")


def stage(name):
    def deco(fn):
        def run(*a, **kw):
            t = time.time()
            log(f"=== {name} ===")
            rec = SUMMARY["stages"].setdefault(name, {})
            try:
                fn(rec, *a, **kw)
                rec.setdefault("ok", True)
            except Exception as e:  # noqa: BLE001
                rec["ok"] = False
                rec["error"] = f"{type(e).__name__}: {e}"[:3000]
                rec["traceback"] = traceback.format_exc()[-4000:]
                traceback.print_exc()
            rec["seconds"] = round(time.time() - t, 1)
            log(f"=== {name}: {'OK' if rec['ok'] else 'FAILED'} in {rec['seconds']}s ===")
            save_summary()
            return rec["ok"]
        return run
    return deco


# --------------------------------------------------------------------------------------------
# onnxruntime (Python) helpers
# --------------------------------------------------------------------------------------------

ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
             "tensor(bool)": "bool", "tensor(int32)": "int32", "tensor(uint8)": "uint8"}
_SESSIONS = {}


def ort_session(path, threads):
    if path not in _SESSIONS:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        _SESSIONS[path] = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return _SESSIONS[path]


def to_numpy(t):
    t = t.detach().cpu().contiguous()
    return t.numpy()


def diff(got, want):
    """max abs diff, max |want|, and their ratio (float64)."""
    g = np.asarray(got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        raise AssertionError(f"shape {g.shape} != {w.shape}")
    if g.size == 0:
        return 0.0, 0.0, 0.0
    d = float(np.abs(g - w).max())
    scale = float(np.abs(w).max())
    return d, scale, d / max(scale, 1e-6)


def ort_replay_cases(bundle, cases_dir, threads=4):
    """Python twin of run_graph_cases.mjs: [{case, graph, maxAbsDiff, tolerance, ms}]."""
    with open(os.path.join(bundle, "manifest.json")) as f:
        man = json.load(f)
    import tensor_io
    res = []
    for jf in sorted(glob.glob(os.path.join(cases_dir, "*.json"))):
        with open(jf) as f:
            c = json.load(f)
        s = ort_session(os.path.join(bundle, man["graphs"][c["graph"]]["file"]), threads)
        feeds = {n: tensor_io.load(e, cases_dir).numpy() for n, e in c["inputs"].items()}
        t = time.time()
        outs = s.run(None, feeds)
        ms = (time.time() - t) * 1000
        by = dict(zip([o.name for o in s.get_outputs()], outs))
        worst = 0.0
        for n, e in c["outputs"].items():
            want = tensor_io.load(e, cases_dir).float().numpy()
            if n not in by:
                raise AssertionError(f"{c['case']}: missing output {n}")
            worst = max(worst, diff(by[n], want)[0])
        res.append({"case": c["case"], "graph": c["graph"], "maxAbsDiff": worst, "tolerance": c["tolerance"], "ms": ms})
    _SESSIONS.clear()
    return res


def ort_io_vs_manifest(bundle, threads=4):
    """Every graph loads in onnxruntime; input/output names, dtypes and shapes == manifest."""
    with open(os.path.join(bundle, "manifest.json")) as f:
        man = json.load(f)
    for g, spec in man["graphs"].items():
        s = ort_session(os.path.join(bundle, spec["file"]), threads)
        for got, want, kind in ((s.get_inputs(), spec["inputs"], "inputs"), (s.get_outputs(), spec["outputs"], "outputs")):
            gl = [(v.name, ORT_TYPES.get(v.type, v.type), list(v.shape)) for v in got]
            wl = [(w["name"], w["dtype"], list(w["shape"])) for w in want]
            if gl != wl:
                raise AssertionError(f"{g} {kind}: onnxruntime {gl} != manifest {wl}")
    return man


# --------------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------------


@stage("env")
def stage_env(rec, a):
    rec.update({"python": sys.version.split()[0], "executable": sys.executable, "platform": platform.platform(),
                "torch": torch.__version__, "torch_cuda": torch.version.cuda, "onnx": onnx.__version__,
                "onnxruntime": ort.__version__ if ort else None, "onnxruntime_import_error": ORT_ERROR,
                "cuda_available": torch.cuda.is_available(), "device": a.device,
                "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()})
    if torch.cuda.is_available():
        rec["gpu"] = torch.cuda.get_device_name(0)
    sig = __import__("inspect").signature(torch.onnx.export).parameters
    rec["onnx_export_has_dynamo_kw"] = "dynamo" in sig
    if "dynamo" in sig:
        rec["onnx_export_dynamo_default"] = str(sig["dynamo"].default)
    for k, v in rec.items():
        log(f"{k}: {v}")
    if ort is None:
        log(f"onnxruntime (Python) not importable ({ORT_ERROR}): onnxruntime comparisons will be SKIPPED")


@stage("tiny_export")
def stage_tiny(rec, a, work):
    import build_tiny
    out = os.path.join(work, "tiny")
    t = time.time()
    build_tiny.build(out, fixtures=False)
    rec["export_s"] = round(time.time() - t, 1)
    committed = os.path.join(ROOT, "models", "tiny")
    same = {}
    for p in sorted(glob.glob(os.path.join(out, "*.onnx"))):
        f = os.path.basename(p)
        ref = os.path.join(committed, f)
        same[f] = os.path.exists(ref) and open(p, "rb").read() == open(ref, "rb").read()
    rec["onnx_bytes_equal_committed"] = same
    rec["all_onnx_bytes_equal"] = all(same.values())
    log(f"tiny .onnx bytes equal to committed models/tiny: {same}")
    import check_bundle
    check_bundle.check(out, run_node=False)
    rec["checker"] = "full_check ok on every graph; manifest I/O + sha256 ok"
    if ort is None:
        rec["ort"] = f"SKIPPED: import onnxruntime failed ({ORT_ERROR})"
        log(rec["ort"])
        return
    ort_io_vs_manifest(out)
    res = ort_replay_cases(out, os.path.join(committed, "reference", "graphs"))
    worst = max(r["maxAbsDiff"] for r in res)
    rec["ort_cases"] = len(res)
    rec["ort_worst_max_abs_diff"] = worst
    rec["ort_per_case"] = {r["case"]: r["maxAbsDiff"] for r in res}
    for r in res:
        log(f"  {'ok' if r['maxAbsDiff'] <= min(r['tolerance'], 1e-4) else 'FAIL'} {r['case']}: {r['maxAbsDiff']:.3g}")
    if not (len(res) >= 16 and worst <= 1e-4):
        rec["ok"] = False
        rec["error"] = f"tiny fixtures replay: worst {worst:.3g} > 1e-4 or only {len(res)} cases"


@stage("test_export")
def stage_tests(rec, a):
    threads = torch.get_num_threads()
    import check_bundle
    import test_export as T  # builds its tiny checkpoint at import
    torch.set_num_threads(threads)
    if ort is None:
        def node_cases(bundle, cases_dir):
            raise RuntimeError(f"SKIPPED onnxruntime replay: import onnxruntime failed ({ORT_ERROR})")
        orig_check = check_bundle.check
    else:
        def node_cases(bundle, cases_dir):
            return ort_replay_cases(bundle, cases_dir)
        orig_check = check_bundle.check

    def check_py(bundle, run_node=False, verbose=True):
        m = orig_check(bundle, run_node=False, verbose=verbose)
        if run_node and ort is not None:
            ort_io_vs_manifest(bundle)
            _SESSIONS.clear()
        return m
    T.node_cases = node_cases
    check_bundle.check = check_py
    try:
        for t in T.TESTS:
            t()
    finally:
        check_bundle.check = orig_check
        shutil.rmtree(T.TMP, ignore_errors=True)
    rec["results"] = [{"name": n, "ok": ok, "error": e[:500]} for n, ok, e in T.RESULTS]
    n_ok = sum(1 for _, ok, _ in T.RESULTS if ok)
    rec["passed"], rec["failed"] = n_ok, len(T.RESULTS) - n_ok
    log(f"test_export: {n_ok} passed, {len(T.RESULTS) - n_ok} failed"
        + ("" if ort else " (failures that say SKIPPED need Python onnxruntime)"))
    if rec["failed"]:
        rec["ok"] = False


@stage("real_width")
def stage_real(rec, a, work):
    ckpt, out = os.path.join(work, "rw_ckpt"), os.path.join(work, "rw_bundle")
    os.makedirs(ckpt, exist_ok=True)
    t = time.time()
    if a.small:
        import build_tiny
        build_tiny.write_checkpoint(ckpt, 1234)
        rec["config"] = "tiny widths (--small dry run)"
    else:
        import check_real_width
        check_real_width.write_random_checkpoint(ckpt, a.vocab)
        rec["config"] = f"real widths, 1 decoder layer, 1 ViT layer, vocab {a.vocab}"
    rec["checkpoint_s"] = round(time.time() - t, 1)
    rec["checkpoint_bytes"] = sum(os.path.getsize(p) for p in glob.glob(os.path.join(ckpt, "*.safetensors")))
    log(f"random bf16 checkpoint ({rec['config']}) {rec['checkpoint_bytes'] / 2**30:.2f} GiB in {rec['checkpoint_s']}s")

    # (b) the real exporter CLI
    cmd = [sys.executable, os.path.join(HERE, "export.py"), "--checkpoint", ckpt, "--out", out,
           "--dtype", "fp16", "--device", a.device, "--name", "unimedvl-realwidth-1layer",
           "--external-data-min-mb", "64"]
    log("running " + " ".join(cmd))
    t = time.time()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    rec["export_s"] = round(time.time() - t, 1)
    sys.stdout.write(r.stdout[-6000:])
    warn = sorted({ln.strip()[:200] for ln in r.stderr.splitlines() if "Warning" in ln})
    rec["export_warnings"] = warn[:20]
    if r.returncode != 0:
        sys.stdout.write(r.stderr[-6000:])
        raise RuntimeError(f"export.py exited {r.returncode}: {r.stderr[-1500:]}")
    rec["export_child_peak_rss_gib"] = round(children_rss_gib(), 2)
    log(f"export.py --dtype fp16 --device {a.device}: {rec['export_s']}s, child peak RSS {children_rss_gib():.2f} GiB; "
        f"{len(warn)} distinct warning lines")
    for w in warn[:10]:
        log(f"  warning: {w}")

    # (c) checker full_check on every graph, manifest I/O, sizes, sha256
    import check_bundle
    t = time.time()
    man = check_bundle.check(out, run_node=False)
    rec["checker_s"] = round(time.time() - t, 1)
    rec["checker"] = "onnx.checker full_check ok on all graphs; manifest I/O + sizes + sha256 ok"
    rec["external_data"] = {g: v["external_data"] for g, v in man["graphs"].items() if v["external_data"]}
    rec["bundle_bytes"] = sum(f["size"] for f in man["files"])
    rec["graph_bytes"] = {g: sum(f["size"] for f in man["files"] if f["path"] in [v["file"]] + v["external_data"])
                          for g, v in man["graphs"].items()}
    log(f"checker full_check OK in {rec['checker_s']}s; bundle {rec['bundle_bytes'] / 2**30:.2f} GiB; "
        f"external data {rec['external_data']}")
    save_summary()

    # (d) onnxruntime vs the fp16 PyTorch modules on the device
    if ort is None:
        rec["ort"] = f"SKIPPED: import onnxruntime failed ({ORT_ERROR})"
        log(rec["ort"])
        return
    threads = os.cpu_count() or 4
    t = time.time()
    ort_io_vs_manifest(out, threads)
    rec["ort_io_s"] = round(time.time() - t, 1)
    rec["ort_io"] = "every graph loads in onnxruntime (CPU); input/output names, dtypes, shapes == manifest"
    log(f"{rec['ort_io']} ({rec['ort_io_s']}s)")
    from modeling import load_checkpoint
    from graphs import build_graphs
    import graph_cases
    t = time.time()
    model, ae, cfg = load_checkpoint(ckpt, torch.float16)
    model.to(a.device)
    ae.to(a.device)
    mods = build_graphs(model, ae)
    per, bad = {}, []
    for case, g, args in graph_cases.cases(cfg, torch.float16):
        if time.time() - T0 > a.deadline:
            rec.setdefault("parity_not_run", []).append(case)
            log(f"  NOT RUN {case}: past the --deadline of {a.deadline}s")
            continue
        with torch.no_grad():
            ref = mods[g](*[x.to(a.device) for x in args])
        if not isinstance(ref, tuple):
            ref = (ref,)
        s = ort_session(os.path.join(out, man["graphs"][g]["file"]), threads)
        t1 = time.time()
        got = s.run(None, {i["name"]: to_numpy(x) for i, x in zip(man["graphs"][g]["inputs"], args)})
        ms = (time.time() - t1) * 1000
        worst = (0.0, 0.0, 0.0, None)
        for o, gv, rv in zip(man["graphs"][g]["outputs"], got, ref):
            if str(gv.dtype) != o["dtype"]:
                raise AssertionError(f"{case}: output {o['name']} dtype {gv.dtype} != manifest {o['dtype']}")
            d = diff(gv, to_numpy(rv.float()))
            if worst[3] is None or d[2] > worst[2]:
                worst = (*d, o["name"])
        ok = worst[2] <= FP16_REL_TOL and worst[0] <= FP16_ABS_TOL
        per[case] = {"graph": g, "max_abs_diff": worst[0], "ref_max_abs": worst[1], "rel": worst[2],
                     "worst_output": worst[3], "ort_ms": round(ms, 1), "ok": ok}
        log(f"  {'ok' if ok else 'FAIL'} {case}: max abs diff {worst[0]:.4g} (scale {worst[1]:.3g}, rel {worst[2]:.3g}, "
            f"{worst[3]}) ort {ms:.0f} ms")
        if not ok:
            bad.append(case)
    _SESSIONS.clear()
    rec["parity_s"] = round(time.time() - t, 1)
    rec["parity"] = per
    rec["parity_tolerance"] = f"max abs diff / max |reference| <= {FP16_REL_TOL} and max abs diff <= {FP16_ABS_TOL}"
    rec["parity_worst_rel_per_graph"] = {}
    for c, v in per.items():
        rec["parity_worst_rel_per_graph"][v["graph"]] = max(rec["parity_worst_rel_per_graph"].get(v["graph"], 0), v["rel"])
    log(f"parity {len(per)} cases in {rec['parity_s']}s; worst rel per graph {rec['parity_worst_rel_per_graph']}")
    if rec.get("parity_not_run"):
        rec["ok"] = False
        rec["error"] = f"parity cases not run (deadline): {rec['parity_not_run']}"
    if bad:
        rec["ok"] = False
        rec["error"] = f"parity over tolerance: {bad}"


def main():
    global OUT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for gpu_check.json")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--vocab", type=int, default=152064)
    ap.add_argument("--small", action="store_true", help="tiny widths for the real_width stage (dry run)")
    ap.add_argument("--stages", default="tiny_export,test_export,real_width")
    ap.add_argument("--deadline", type=float, default=420,
                    help="seconds after start past which remaining parity cases are not run (reported)")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temp dir, removed at the end)")
    a = ap.parse_args()
    OUT = a.out
    os.makedirs(OUT, exist_ok=True)
    SUMMARY["args"] = vars(a)
    stage_env(a)
    work = a.work or tempfile.mkdtemp(prefix="unimedvl-gpucheck-")
    stages = a.stages.split(",")
    try:
        if "tiny_export" in stages:
            stage_tiny(a, work)
        if "test_export" in stages:
            stage_tests(a)
        if "real_width" in stages:
            stage_real(a, work)
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
    SUMMARY["ok"] = all(s.get("ok") for s in SUMMARY["stages"].values())
    save_summary()
    log(f"{'ALL OK' if SUMMARY['ok'] else 'FAILED'}: " + ", ".join(
        f"{k} {'ok' if v.get('ok') else 'FAILED'} ({v.get('seconds')}s)" for k, v in SUMMARY["stages"].items()))
    sys.exit(0 if SUMMARY["ok"] else 1)


if __name__ == "__main__":
    main()
