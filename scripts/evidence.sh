#!/usr/bin/env bash
# The evidence behind the README's status: does the loop improve a real local model's
# harness on tasks it never saw? Unattended and resumable (run it again after a stop: each
# finished stage is kept, the loop resumes where it stopped).
#
# Two suites (EVIDENCE_SUITE): `intercode` (the default: InterCode-ALFA's usable tasks, made
# by scripts/setup-intercode.sh --suite intercode; stores under docs/evidence/intercode/<model>/)
# and `starter` (the 36 tasks of tasks/, the evidence of before, kept as it is). The starter
# suite's headline store (ledger,
# validations, weaknesses, proposals, each eval's run.json; traces are git-ignored) is
# docs/evidence itself, linked from docs/evidence/1.5b/main/.self-harness where the
# commands run; another model's, and each ablation's, is a store of its own under
# docs/evidence/<model>/. docs/evidence.md is written from those stores by
# `self-harness report --markdown`, so
#   self-harness report --store docs/evidence --json
# regenerates every number in it.
#
# Stages, in order (`bash scripts/evidence.sh STAGE…` runs only those; the InterCode run's
# default is rates formats baselines loop adapt final ablations doc, the starter's baselines loop
# final ablations probe doc):
#   rates      (intercode) minimal on the validate split with the repeats after the loop
#              baseline's (seeds 1, 2), for the per-task rates the power simulation of
#              docs/statistics.md reads (validate-rates.json); minimal greedy (temperature 0) on
#              every usable task; with EVIDENCE_MODEL=0.5b, minimal at both temperatures
#   formats    (intercode) minimal (JSON), minimal-markdown, mini-swe-agent's two
#              configurations and Terminus-2 (keystrokes) imported from the installed
#              packages, on the mine split, same seeds (EVIDENCE_FORMAT_REPEATS, 1): which
#              reply format this model does best with
#   baselines  minimal and reference (harnesses/ at the stated temperature) on the test split
#   loop       the loop with auto-apply from minimal, proposer model+catalog
#   adapt      (intercode) the loop from mini-swe-agent's text-based configuration (imported
#              from the installed package) instead of minimal, in the store adapt-mini-swe-agent:
#              how far it adapts a harness written for frontier models to this model
#   final      the loop's final harness on the test split, same seeds as the baselines
#   ablations  the loop again with --proposer none|generic|random|catalog|model, each in
#              its own store, and its final harness on the test split
#   probe      design-split probe: the committed harnesses of docs/evidence/<model>/design
#              (minimal; minimal + a review-before-done hook; minimal + the catalog's runtime
#              remedies at once; the explain hooks) on the *mine* split, same seeds: how far
#              such edits move the model at all, measured where the loop mines; then minimal
#              and explain-check on the validate split, and minimal there again with the
#              next repeats' seeds (the noise floor); never on the test split
#   suite      minimal and reference on all three splits in the store docs/evidence/<model>/suite,
#              for the per-task table of tasks/README.md (the 1.5B's come from baselines and probe)
#   doc        docs/evidence.md: the goal and how far it got, what each proposer contributed,
#              each store's report (the headline model's; not part of a run for another model)
#
# Settings (environment): EVIDENCE_SUITE (intercode), EVIDENCE_MODEL (1.5b; the 0.5b has
# no signal), EVIDENCE_REPEATS (3), EVIDENCE_TEMPERATURE (0.7: at 0 the repeats of a task are
# token-identical), EVIDENCE_PARALLEL (2), EVIDENCE_EPISODE_TIMEOUT (120 s),
# EVIDENCE_ITERATIONS (3 for InterCode, 1 for the starter suite), EVIDENCE_FORMAT_REPEATS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

suite=${EVIDENCE_SUITE:-intercode}
size=${EVIDENCE_MODEL:-1.5b}
repeats=${EVIDENCE_REPEATS:-${EVIDENCE_TRIALS:-3}}
temperature=${EVIDENCE_TEMPERATURE:-0.7}
parallel=${EVIDENCE_PARALLEL:-2}
timeout=${EVIDENCE_EPISODE_TIMEOUT:-120}
format_repeats=${EVIDENCE_FORMAT_REPEATS:-${EVIDENCE_FORMAT_TRIALS:-1}}
port=8091
stages=("$@")
case $suite in
  intercode)
    out=docs/evidence/intercode/$size
    tasks=$root/intercode
    iterations=${EVIDENCE_ITERATIONS:-3}
    [ ${#stages[@]} -eq 0 ] && stages=(rates formats baselines loop adapt final ablations doc)
    ;;
  starter)
    out=docs/evidence/$size
    tasks=$root/tasks
    iterations=${EVIDENCE_ITERATIONS:-1}
    [ ${#stages[@]} -eq 0 ] && stages=(baselines loop final ablations probe doc)
    ;;
  *) echo "EVIDENCE_SUITE is intercode or starter, not $suite" >&2; exit 2 ;;
esac

echo "==> building self-harness (release)"
cargo build --locked --release
bin=$root/target/release/self-harness
if [ "${stages[*]}" != doc ]; then
  bash scripts/setup-docker.sh
  "$bin" images build
  # The exclusions the committed splits were made with (tasks check --oracle, 2026-12-06).
  [ "$suite" = intercode ] && BIN=$bin bash scripts/setup-intercode.sh --suite "$tasks" \
    --exclusions docs/evidence/intercode/excluded.toml >/dev/null
  "$bin" model serve --size "$size" --port "$port" --detach
fi
export OPENAI_BASE_URL=http://127.0.0.1:$port/v1
export OPENAI_MODEL=qwen2.5-coder-$size-instruct

# The harnesses as measured: the repository's, at the evidence's temperature ($3, when
# given, instead).
at_temperature() {
  local from=$1 to=$2 at=${3:-$temperature}
  if [ ! -d "$to" ]; then
    mkdir -p "$(dirname "$to")"
    cp -r "$from" "$to"
    sed -i "s/^temperature = .*/temperature = $at/" "$to/harness.toml"
    local schema
    schema=$(realpath --relative-to="$to" harnesses/harness.schema.json)
    sed -i "s|^#:schema .*|#:schema $schema|" "$to/harness.toml"
  fi
}
at_temperature harnesses/minimal "$out/harnesses/minimal"
at_temperature harnesses/reference "$out/harnesses/reference"

# `eval` of the harness $2 on the split $4 (test; `all` for every task) of the store $1 with
# $6 (the evidence's) repeats seeded from $5 (0), once (a marker $3 says it ran).
evaluate() {
  local store=$1 harness=$2 done=$1/.self-harness/evaluated-$3 split=${4:-test} seed=${5:-0} n=${6:-$repeats}
  if [ -e "$done" ]; then
    echo "    $3: evaluated already"
    return
  fi
  local which=(--split "$split")
  [ "$split" = all ] && which=()
  mkdir -p "$store"
  (cd "$store" && "$bin" eval --harness "$root/$harness" --tasks "$tasks" "${which[@]}" \
    --repeats "$n" --seed "$seed" --parallel "$parallel" --episode-timeout "$timeout")
  touch "$done"
}

# The final harness of the loop in the store $1 on the test split; when the loop accepted
# nothing it is minimal itself, whose evaluation stands.
final() {
  if diff -rq "$1/harness" "$out/harnesses/minimal" >/dev/null; then
    echo "    the loop accepted nothing: its final harness is minimal, evaluated already"
    return
  fi
  evaluate "$1" "$1/harness" final
}

# The loop from minimal (or the harness $3) in the store $1 with proposer $2 (on a copy,
# $1/harness), to its end. The loop reads where it stands from its ledger: a finished one
# does nothing, one asked for more iterations than it ran goes on after its last.
loop_in() {
  local store=$1 proposer=$2 from=${3:-$out/harnesses/minimal}
  mkdir -p "$store"
  [ -d "$store/harness" ] || cp -r "$from" "$store/harness"
  (cd "$store" && "$bin" loop --harness harness --tasks "$tasks" --auto-apply --seed 0 \
    --iterations "$iterations" --repeats 1 --weaknesses 1 --candidates 2 --proposer "$proposer" \
    --episode-timeout "$timeout" --parallel "$parallel")
}

# mini-swe-agent's configurations as the installed package ships them, and Terminus-2 as
# Harbor 0.25.0 does, at the evidence's temperature (git-ignored: read from the packages).
import_the_fields_harnesses() {
  local scratch
  if [ ! -d "$out/harnesses/mini-swe-agent" ]; then
    scratch=$(mktemp -d)
    "$bin" harness import mini-swe-agent --python "$(bash scripts/setup-mini-swe-agent.sh)" --out "$scratch/imported"
    for name in mini-swe-agent-textbased mini-swe-agent; do
      at_temperature "$scratch/imported/$name" "$out/harnesses/$name"
    done
    rm -rf "$scratch"
  fi
  if [ ! -d "$out/harnesses/terminus-2" ]; then
    scratch=$(mktemp -d)
    "$bin" harness import terminus-2 --python "$(bash scripts/setup-harbor.sh)" --out "$scratch/imported"
    at_temperature "$scratch/imported/terminus-2" "$out/harnesses/terminus-2"
    rm -rf "$scratch"
  fi
}

for stage in "${stages[@]}"; do
  started=$(date +%s)
  echo "==> $stage"
  case $stage in
    baselines)
      mkdir -p "$out/main"
      # The starter suite's headline store is docs/evidence itself; the others stay in their folders.
      if [ "$suite" = starter ] && [ "$size" = 1.5b ] && [ ! -e "$out/main/.self-harness" ]; then
        ln -s ../.. "$out/main/.self-harness"
      fi
      evaluate "$out/main" "$out/harnesses/minimal" minimal
      evaluate "$out/main" "$out/harnesses/reference" reference
      ;;
    loop)
      # The formats stage's split where it ran first (the same rule and seed give the same
      # sets; a copy keeps them the same should the exclusions have changed since).
      mkdir -p "$out/main/.self-harness"
      if [ ! -e "$out/main/.self-harness/splits.json" ] && [ -e "$out/formats/.self-harness/splits.json" ]; then
        cp "$out/formats/.self-harness/splits.json" "$out/main/.self-harness/"
      fi
      loop_in "$out/main" model+catalog
      ;;
    adapt)
      # The loop from mini-swe-agent's text-based configuration instead of minimal: how far it
      # adapts a harness written for frontier models to this one. Its store keeps neither the
      # harness nor the candidates (mini-swe-agent's texts): both are made again from the
      # import and the recorded edits.
      import_the_fields_harnesses
      mkdir -p "$out/adapt-mini-swe-agent/.self-harness"
      [ -e "$out/adapt-mini-swe-agent/.self-harness/splits.json" ] \
        || cp "$out/main/.self-harness/splits.json" "$out/adapt-mini-swe-agent/.self-harness/"
      loop_in "$out/adapt-mini-swe-agent" model+catalog "$out/harnesses/mini-swe-agent-textbased"
      ;;
    final) final "$out/main" ;;
    ablations)
      for proposer in none generic random catalog model; do
        store=$out/ablation-$proposer
        mkdir -p "$store/.self-harness/runs"
        # The main store's split: every store's mine, validate and test sets are the same.
        [ -e "$store/.self-harness/splits.json" ] || cp "$out/main/.self-harness/splits.json" "$store/.self-harness/"
        # The same minimal run as the main store's, so each store pairs its final with it.
        for run in "$out"/main/.self-harness/runs/*; do
          if grep -qs "\"harness\": \"minimal\"" "$run/run.json" && [ ! -e "$store/.self-harness/runs/$(basename "$run")" ]; then
            mkdir -p "$store/.self-harness/runs/$(basename "$run")" && cp "$run/run.json" "$store/.self-harness/runs/$(basename "$run")/"
          fi
        done
        # The main loop's episodes (git-ignored traces, where this machine has them), which a
        # loop reuses by harness version, task and seed as it reuses its own: every proposer
        # reads the same failures of minimal and is judged against the same parent episodes,
        # so only the proposer differs, and a candidate the main loop already ran is not run again.
        if compgen -G "$out/main/.self-harness/runs/loop-*" >/dev/null; then
          (cd "$out/main/.self-harness/runs" && tar -cf - loop-*) | tar -C "$store/.self-harness/runs" --skip-old-files -xf -
        fi
        loop_in "$store" "$proposer"
        final "$store"
      done
      ;;
    probe)
      for harness in minimal show-changes runtime explain explain-check survey; do
        evaluate "$out/design" "$out/design/harnesses/$harness" "$harness-mine" mine
      done
      # The catalog's remedy away from the tasks it was designed on: the validate split.
      for harness in minimal explain-check; do
        evaluate "$out/design" "$out/design/harnesses/$harness" "$harness-validate" validate
      done
      # The noise floor: minimal against itself on the validate split, with the next repeats'
      # seeds (3, 4, 5 against 0, 1, 2): how many tasks differ by sampling alone.
      evaluate "$out/design" "$out/design/harnesses/minimal" minimal-validate-reseeded validate "$repeats"
      # The human baseline on the other two splits, for the per-task table of tasks/README.md.
      for split in mine validate; do
        evaluate "$out/design" "$out/harnesses/reference" "reference-$split" "$split"
      done
      ;;
    suite)
      mkdir -p "$out/suite"
      for harness in minimal reference; do
        for split in mine validate test; do
          evaluate "$out/suite" "$out/harnesses/$harness" "$harness-$split" "$split"
        done
      done
      ;;
    rates)
      # The main store's split (made by its loop), so that "validate" is the loop's.
      mkdir -p "$out/rates/.self-harness"
      if [ ! -e "$out/rates/.self-harness/splits.json" ] && [ -e "$out/main/.self-harness/splits.json" ]; then
        cp "$out/main/.self-harness/splits.json" "$out/rates/.self-harness/"
      fi
      if [ "$size" = 1.5b ]; then
        # Seed 0 is the loop baseline's (the main store's ledger); these are the repeats after it.
        evaluate "$out/rates" "$out/harnesses/minimal" minimal-validate-reseeded validate 1 2
        # Per validate task, minimal's passes over its three repeats: what docs/statistics.md's
        # InterCode power table simulates from (server/tests/decisions.rs reads it).
        python3 - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
ledger = [json.loads(l) for l in (out / "main/.self-harness/ledger.jsonl").read_text().splitlines() if l.strip()]
base = next(e for e in ledger if e["type"] == "evaluation" and e["iteration"] == 0 and e["split"] == "validate")
runs = [json.loads(p.read_text()) for p in sorted((out / "rates/.self-harness/runs").glob("*/run.json"))]
more = next(r for r in runs if r["split"] == "validate" and r["harness"] == "minimal")
rates = {t: dict(s) for t, s in base["score"]["per_task"].items()}
for t in more["tasks"]:
    rates[t["task"]]["passed"] += t["passed"]
    rates[t["task"]]["counted"] += t["counted"]
doc = {"what": "minimal's passes per validate task: the loop baseline's seed 0 and the rates stage's seeds 1, 2",
       "baseline_run": base["run"], "reseeded_run": more["run"], "tasks": rates}
(out / "validate-rates.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
PY
        at_temperature harnesses/minimal "$out/harnesses/minimal-greedy" 0.0
        evaluate "$out/rates" "$out/harnesses/minimal-greedy" minimal-greedy-all all 0 1
      else
        at_temperature harnesses/minimal "$out/harnesses/minimal-greedy" 0.0
        evaluate "$out/rates" "$out/harnesses/minimal" minimal-all all 0 1
        evaluate "$out/rates" "$out/harnesses/minimal-greedy" minimal-greedy-all all 0 1
      fi
      ;;
    formats)
      import_the_fields_harnesses
      # The loop's split: the main store's where it exists, else made by the same rule and
      # seed (0), which gives the same sets.
      mkdir -p "$out/formats/.self-harness"
      if [ ! -e "$out/formats/.self-harness/splits.json" ] && [ -e "$out/main/.self-harness/splits.json" ]; then
        cp "$out/main/.self-harness/splits.json" "$out/formats/.self-harness/"
      fi
      for harness in minimal minimal-markdown mini-swe-agent-textbased mini-swe-agent terminus-2; do
        evaluate "$out/formats" "$out/harnesses/$harness" "$harness-mine" mine 0 "$format_repeats"
      done
      ;;
    doc) ;;
    *) echo "unknown stage $stage (rates, formats, baselines, loop, adapt, final, ablations, probe, suite, doc)" >&2; exit 2 ;;
  esac
  echo "    $stage: $(( ($(date +%s) - started) / 60 )) min ($(date -u +%Y-%m-%d), self-harness $(git rev-parse --short HEAD))" \
    | tee -a "$out/stages.log"
done

# What each proposer contributed, one row per store (main: model+catalog), from each
# store's `report --json`: what it proposed, how the best candidate screened on the mine
# split, what validation decided, and the final harness on the test split.
ablations_table() {
  echo
  echo "## What each proposer contributed"
  echo
  echo "Every store starts from minimal with the same split, seeds and minimal episodes (the"
  echo "ablations reuse the main loop's), so only the proposer differs. Screened: the best"
  echo "candidate's passes on the mine split against its parent's (same seeds). Test: the final"
  echo "harness on the test split, $repeats repeats per task; with nothing accepted it is minimal."
  echo "Tokens and container-minutes count every episode a loop used, reused ones too."
  echo
  python3 /dev/fd/3 "$bin" "$out"/main "$out"/ablation-* 3<<'PY'
import json, subprocess, sys
print("| proposer | iterations | proposed (by source) | discarded | screened, best | validated | accepted "
      "| test, final harness | tokens | container-min |")
print("|---|---|---|---|---|---|---|---|---|---|")
for store in sys.argv[2:]:
    name = store.rstrip("/").rsplit("/", 1)[-1]
    out = subprocess.run([sys.argv[1], "report", "--store", f"{store}/.self-harness", "--json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        continue
    report = json.loads(out.stdout)
    its = [it for it in report["iterations"] if it["iteration"] > 0]
    sources = ", ".join(f"{v['proposed']} {k}" for k, v in sorted(report["sources"].items())) or "none"
    screens = [s for it in its for s in it["screenings"]]
    # The best of those screened on the whole mine split (the rest left the race early).
    whole = [s for s in screens if s.get("tasks") is None] or screens
    best = max(whole, key=lambda s: s["candidate_passed"] - s["parent_passed"], default=None)
    screened = f"{best['candidate_passed']} vs {best['parent_passed']} of {best['counted']}" if best else "none"
    decisions = "; ".join(d["reason"].split(":")[0] for it in its for d in it["decisions"]) or "none"
    tests = [e for e in report["evaluations"] if e["split"] == "test"]
    final = [e for e in tests if e["harness"] not in ("minimal", "reference")]
    minimal = [e for e in tests if e["harness"] == "minimal"]
    rate = (final or minimal or [None])[-1]
    test = f"{rate['rate']['passed']}/{rate['rate']['counted']}" + ("" if final else " (minimal)") if rate else "not run"
    proposer = "model+catalog" if name == "main" else name.removeprefix("ablation-")
    print(f"| {proposer} | {len(its)} | {sources} | {sum(len(it['discarded']) for it in its)} | {screened} "
          f"| {decisions} | {sum(it['accepted'] for it in its)} | {test} | {report['spend']['tokens']:,} "
          f"| {report['spend']['container_seconds'] / 60:.0f} |")
PY
}

# The goal of the evidence (a lift of at least 15 pp on the test split, task-level paired
# p < 0.05) against what the stores hold: the final harnesses on the test split, every
# validation the loops decided, the best hand-made probe per split, and why it got no further.
verdict() {
  echo
  echo "## The goal, and how far it got"
  echo
  python3 /dev/fd/3 "$bin" "$out" "$suite" 3<<'PY'
import json, math, re, subprocess, sys
from pathlib import Path

bin, out, suite = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
def report(store):
    run = subprocess.run([bin, "report", "--store", str(store / ".self-harness"), "--json"],
                         capture_output=True, text=True)
    return json.loads(run.stdout) if run.returncode == 0 else None

stores = {p.name: report(p) for p in [out / "main", *sorted(out.glob("ablation-*"))]}
stores = {k: v for k, v in stores.items() if v}
main = stores.get("main")
if not main:
    print("(the loop has not run yet)")
    sys.exit()
alpha = float(re.search(r"alpha=([0-9.]+)", main["policy"]).group(1))
splits = json.loads((out / "main" / ".self-harness" / "splits.json").read_text())["sets"]
n = len(splits["validate"])
need = math.ceil(math.log2(1 / alpha))
accepted = sum(it["accepted"] for r in stores.values() for it in r["iterations"])
tests = {e["harness"]: e for e in main["evaluations"] if e["split"] == "test"}
def rate(e):
    r = e["rate"]
    return f"{r['passed']}/{r['counted']} ({100 * r['rate']:.1f}%)"

print("The goal: the loop's final harness beats `minimal` on the held-out test split by at least")
print(f"15 percentage points, with a task-level paired p < {alpha}.")
print()
def finished(store):
    """Whether the loop of `store` ended: its ledger's last entry is its finish."""
    ledger = store / ".self-harness" / "ledger.jsonl"
    lines = [l for l in ledger.read_text().splitlines() if l.strip()] if ledger.exists() else []
    return bool(lines) and json.loads(lines[-1])["type"] == "finish"
ledger = out / "main" / ".self-harness" / "ledger.jsonl"
reached = max((json.loads(l).get("iteration", 0) for l in ledger.read_text().splitlines() if l.strip()), default=0)
if not finished(out / "main") and accepted == 0:
    screened = sum(1 for l in ledger.read_text().splitlines() if l.strip() and json.loads(l)["type"] == "screening")
    print(f"**Not reached yet: the loop is under way** (stopped in iteration {reached} of its run, after {screened}")
    print("screening(s); `bash scripts/evidence.sh loop` resumes it). Nothing has been validated, so nothing")
    print("is accepted yet" + (f"; `minimal` passes {rate(tests['minimal'])} of the test split." if "minimal" in tests else "."))
elif accepted == 0:
    ended = [p for p in sorted(out.glob("ablation-*")) if finished(p)]
    going = [p.name.removeprefix("ablation-") for p in sorted(out.glob("ablation-*")) if p not in ended]
    which = "the main one" + (f" and {len(ended)} finished ablation(s)" if ended else "") + (
        f"; the {', '.join(going)} ablation(s) under way" if going else "") + ("" if ended or going else ", the ablations not run yet")
    print(f"**Not reached.** No loop ({which}) accepted an edit, so")
    print("every final harness is `minimal` itself and the lift is 0 pp" + (
        f":\n`minimal` passed {rate(tests['minimal'])} of the test split" if "minimal" in tests else "")
        + (f", the hand-written `reference` {rate(tests['reference'])}." if "reference" in tests else "."))
else:
    print(f"{accepted} edit(s) accepted; the final harnesses on the test split are in the sections below.")
print()
print(f"How close the validations came. The validate split has {n} tasks; with one finalist per")
print(f"iteration at α = {alpha} an edit is accepted only if at least {need} tasks pass more often when")
print(f"none passes less, more when some do (the smallest p-value k tasks can give is 2^-k, and")
print(f"2^-{need} = {2 ** -need:.3f}):")
print()
print("| store | iteration | candidate | tasks better | worse | tied | p | decided |")
print("|---|---|---|---|---|---|---|---|")
moved_most = 0
for name, r in stores.items():
    for it in r["iterations"]:
        for d in it["decisions"]:
            better, worse = len(d["improved"]), len(d["regressed"])
            moved_most = max(moved_most, better + worse)
            how = ("accepted" if d["accepted"] else "rejected") + (f", stopped after {d['tasks']} of {n} tasks" if d["stopped_early"] else "")
            print(f"| {name} | {it['iteration']} | {', '.join(d['proposals'])} | {better} | {worse} "
                  f"| {d['tasks'] - better - worse} | {d['p_value']:.4f} | {how} |")
design = report(out / "design")
if design:
    print()
    print("The hand-made harnesses of the design probe, each paired with `minimal` on the same seeds,")
    print("the best by tasks better minus worse on each split they played:")
    print()
    print("| split | harness | passed | minimal | tasks better | worse |")
    print("|---|---|---|---|---|---|")
    best = {}
    for e in design["evaluations"]:
        c = e.get("comparison")
        if not c or e["harness"] == "minimal":
            continue
        better = sum(t["current"]["passed"] > t["baseline"]["passed"] for t in c["tasks"])
        worse = sum(t["current"]["passed"] < t["baseline"]["passed"] for t in c["tasks"])
        base = sum(t["baseline"]["passed"] for t in c["tasks"])
        row = (better - worse, e["harness"], e["rate"]["passed"], base, e["rate"]["counted"], better, worse)
        best[e["split"]] = max(best.get(e["split"], row), row)
    for split, (_, harness, passed, base, counted, better, worse) in sorted(best.items()):
        print(f"| {split} | {harness} | {passed}/{counted} | {base}/{counted} | {better} | {worse} |")
# The noise floor: minimal against itself on the validate split with other seeds (read
# from run.json, since the report pairs only runs with the same seeds).
noise = None
runs = [json.loads(f.read_text()) for f in sorted((out / "design" / ".self-harness" / "runs").glob("*/run.json"))]
same = [r for r in runs if r["harness"] == "minimal" and r["split"] == "validate"]
other = next((r for r in same[1:] if r["seed"] != same[0]["seed"]), None)
if other:
    first = same[0]
    was = {t["task"]: t["passed"] for t in first["tasks"]}
    diffs = [t["passed"] - was[t["task"]] for t in other["tasks"] if t["task"] in was]
    noise = sum(d != 0 for d in diffs)
    seeds = lambda r: f"{r['seed']}–{r['seed'] + r.get('repeats', r.get('trials', 1)) - 1}"
    print()
    print(f"The noise floor: `minimal` against itself on the validate split, repeats seeded {seeds(other)}")
    print(f"against {seeds(first)}: {other['passed']}/{other['counted']} against {first['passed']}/{first['counted']},"
          f" {sum(d > 0 for d in diffs)} tasks better, {sum(d < 0 for d in diffs)} worse,"
          f" {sum(d == 0 for d in diffs)} tied: what sampling alone moves.")
if accepted == 0 and suite == "intercode":
    print("""
What this split can see: `docs/statistics.md` simulates the rule on it, from minimal's measured
per-task rates (section "On InterCode's validate split").""")
if accepted == 0 and suite == "starter":
    floor = (f" The validations above moved at most {moved_most} task(s) either way; the noise floor,\n"
             f"where nothing changed but the seeds, moved {noise}.") if noise is not None else ""
    print(f"""
Why it got no further, from the traces (`docs/evidence/1.5b/design/README.md` has the
episodes): the 1.5B's passes and fails are decided by its first command or two. Edits
around those commands do not change them: a review before done makes it "fix" right
answers, refusing done or asking anew removes the stalls but not the wrong commands, and
showing it the container makes it copy what it saw. Only hooks that name the way out of
a dead end as a command to copy move it, on the dead ends they name; the validate split's
failures are others.{floor} The statistics are stern at this size (`docs/statistics.md`):
a real +20 pp lift on half the tasks is accepted 5% of the time with 8 validate tasks and
12% with 16, so rarely with this suite's 12. What would move it is a stronger actor or
proposer than the two local models this 2-core machine can run, and a validate split
several times larger (12 tasks × 3 repeats take 11 to 24 minutes per harness here).""")
PY
}

[[ " ${stages[*]} " == *" doc "* ]] || exit 0
if [ "$size" != 1.5b ]; then
  echo "==> the evidence documents are the 1.5B's: not rewritten for the $size (its stores are under $out)"
  exit 0
fi

# The InterCode evidence's own tables: how minimal does per file system and difficulty, what
# an episode costs and the verifier's share of it, and the reply formats side by side.
intercode_tables() {
  python3 /dev/fd/3 "$bin" "$out" "$tasks" 3<<'PY'
import json, math, subprocess, sys, tomllib
from pathlib import Path

bin, out, tasks = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
excluded = tasks / "excluded.toml"
excluded = set(tomllib.loads(excluded.read_text()).get("tasks", {})) if excluded.exists() else set()
meta = {}
for t in tasks.glob("intercode-*/task.toml"):
    if t.parent.name in excluded:
        continue
    m = tomllib.loads(t.read_text())["metadata"]
    meta[t.parent.name] = (m["category"], m["difficulty"])
def runs(store):
    return [json.loads(p.read_text()) for p in sorted((store / ".self-harness/runs").glob("*/run.json"))]
def traces(store, run):
    # The run's listed episodes (wherever the store keeps them, perhaps reused from a loop),
    # or, for runs written before eval shared the loop's runner, the traces in its folder.
    folder = store / ".self-harness/runs" / run
    summary = json.loads((folder / "run.json").read_text())
    listed = [store / ".self-harness" / t for row in summary["tasks"] for t in row.get("traces", [])]
    for p in listed or folder.glob("*/*/trace.jsonl"):
        lines = [json.loads(l) for l in p.read_text().splitlines() if l.strip()]
        yield next((l for l in lines if "error_class" in l), None)

print("\n## What minimal does on InterCode\n")
ledger_path = out / "main/.self-harness/ledger.jsonl"
ledger = [json.loads(l) for l in ledger_path.read_text().splitlines() if l.strip()] if ledger_path.exists() else []
base = [e for e in ledger if e["type"] == "evaluation" and e["iteration"] == 0]
cols = {"temperature 0.7 (loop baseline, seed 0)": {t: s for e in base for t, s in e["score"]["per_task"].items()}}
for r in runs(out / "rates"):
    if r["split"] is None and r["harness"].startswith("minimal"):
        cols[f"temperature {r['temperature']} (all tasks, {r['run']})"] = {t["task"]: t for t in r["tasks"]}
for r in runs(out / "formats"):
    if r["harness"] == "minimal":
        cols[f"temperature {r['temperature']} ({r['split']} split, {r['run']})"] = {t["task"]: t for t in r["tasks"]}
cols = {k: v for k, v in cols.items() if v}
if not cols:
    print("(not measured yet)")
else:
    print("Passes over episodes per file system and difficulty, `minimal`, the local 1.5B model:")
    print()
    print("| file system | difficulty | tasks | " + " | ".join(cols) + " |")
    print("|---|---|---:|" + "---:|" * len(cols))
    groups = sorted({meta[t] for c in cols.values() for t in c if t in meta})
    for group in groups + [("all", "all")]:
        names = [t for t in meta if group == ("all", "all") or meta[t] == group]
        cells = []
        for c in cols.values():
            got = [c[t] for t in names if t in c]
            p, n = sum(g["passed"] for g in got), sum(g["counted"] for g in got)
            cells.append(f"{p}/{n} ({100 * p / n:.0f}%)" if n else "-")
        print(f"| {group[0]} | {group[1]} | {len(names)} | " + " | ".join(cells) + " |")

# What an episode costs: wall time per episode and the verifier's share, from the traces.
print("\n## What an episode costs\n")
for store in (out / "rates", out / "formats"):
    for r in runs(store):
        outs = [o for o in traces(store, r["run"]) if o]
        timed = [o for o in outs if o.get("verify_ms") is not None]
        if timed:
            total = sum(o["duration_ms"] for o in timed)
            verify = sum(o["verify_ms"] for o in timed)
            # Wall time per episode only where this run ran them all (a resumed or reusing
            # run's wall time is its last part's).
            wall = (f"{r['wall_seconds'] / max(1, r['counted']):.1f} s of wall time each, {r['counted']} episodes"
                    f" two at a time" if not r.get("reused") else f"{r['reused']} of its episodes reused from the store")
            print(f"* {r['harness']} ({store.name}, {r['run']}): {total / len(timed) / 1000:.1f} s per episode on average"
                  f" ({wall}), of which the verifier {verify / len(timed) / 1000:.1f} s"
                  f" ({100 * verify / total:.0f}%): the reference in a fresh container, and both file systems listed.")

print("\n## Reply formats\n")
formats = runs(out / "formats")
if not formats:
    print("(not measured yet)")
else:
    first = next((r for r in formats if r["harness"] == "minimal"), formats[0])
    was = {t["task"]: t["passed"] for t in first["tasks"]}
    print(f"The same {first['counted']} episodes of the mine split (seeds from {first['seed']}), one harness each:")
    print()
    print("| harness | passed | tasks better than minimal | worse | paired p (sign test, two-sided) "
          "| episodes ended by format errors |")
    print("|---|---:|---:|---:|---:|---:|")
    def row(name, now, counted, outcomes):
        better = sum(now[t] > was.get(t, 0) for t in now)
        worse = sum(now[t] < was.get(t, 0) for t in now)
        n = better + worse
        p = min(1.0, 2 * sum(math.comb(n, k) for k in range(min(better, worse) + 1)) / 2 ** n) if n else 1.0
        parse = sum(1 for o in outcomes if o and o["error_class"] == "parse_failure")
        print(f"| {name} | {sum(now.values())}/{counted} | {better} | {worse} | {p:.3f} | {parse} |")
    for r in formats:
        row(r["harness"], {t["task"]: t["passed"] for t in r["tasks"]}, r["counted"], traces(out / "formats", r["run"]))
    # mini-swe-agent's text-based configuration on the same episodes: the adapt loop's baseline.
    adapt = out / "adapt-mini-swe-agent/.self-harness"
    entries = [json.loads(l) for l in (adapt / "ledger.jsonl").read_text().splitlines() if l.strip()] \
        if (adapt / "ledger.jsonl").exists() else []
    for e in entries:
        if e["type"] == "evaluation" and e["iteration"] == 0 and e["split"] == "mine":
            outcomes = [next((json.loads(l) for l in (adapt / t).read_text().splitlines() if '"error_class"' in l), None)
                        for t in e["episodes"] if (adapt / t).exists()]
            now = {t: s["passed"] for t, s in e["score"]["per_task"].items()}
            row("mini-swe-agent-textbased (the `adapt` loop's baseline)", now, e["score"]["counted"], outcomes)
PY
}

if [ "$suite" = starter ]; then
  doc=docs/evidence-starter.md
else
  doc=docs/evidence.md
fi
echo "==> $doc"
{
  echo "# Evidence: does the loop improve a real local model's harness?"
  echo
  if [ "$suite" = starter ]; then
    echo "**The starter suite** (the 36 tasks of \`tasks/\`, written for this project), measured before"
    echo "InterCode-ALFA's suite existed; the current evidence is [evidence.md](evidence.md)."
    echo
  else
    echo "On **InterCode-ALFA**'s usable shell tasks ([intercode.md](intercode.md)); the evidence on the"
    echo "starter suite, before it, is [evidence-starter.md](evidence-starter.md)."
    echo
  fi
  echo "Written by \`bash scripts/evidence.sh\` ($(date -u +%Y-%m-%d)): the local Qwen2.5-Coder-$size"
  echo "on this machine ($(nproc) cores), temperature $temperature, $repeats repeat(s) per task on the"
  echo "test split (seed 0; repeat k uses seed k), episodes capped at $timeout s, $parallel at once;"
  echo "the loop: $iterations iteration(s), 1 repeat, 1 weakness, 2 candidates from the model and"
  echo "the catalog's, screened on the mine split (in rounds that keep the better half, each at least"
  echo "20 tasks), the best on all of it validated (\`--finalists 1\`);"
  echo "written at commit $(git rev-parse --short HEAD); the stages' own dates and commits are listed below."
  echo "Each section is \`self-harness report --store <store> --markdown\`; its numbers regenerate"
  echo "from the committed store. Stage times (\`$out/stages.log\`):"
  echo
  grep -v ' doc: ' "$out/stages.log" 2>/dev/null | sed 's/^ */* /' || true
  verdict
  [ "$suite" = intercode ] && intercode_tables
  ablations_table
  for store in "$out"/main "$out"/ablation-* "$out"/adapt-* "$out"/design "$out"/formats "$out"/rates; do
    [ -d "$store/.self-harness" ] || continue
    echo
    echo "## $(basename "$store") (\`$(realpath --relative-to=. "$store/.self-harness")\`)"
    echo
    if [ "$(basename "$store")" = adapt-mini-swe-agent ]; then
      echo "The loop from mini-swe-agent's text-based configuration (imported from the installed"
      echo "package, at the evidence's temperature) instead of minimal, with the same splits, seeds and"
      echo "settings: how far it adapts a harness written for frontier models to this model. The store"
      echo "keeps neither that harness nor its candidates (mini-swe-agent's texts): the import and the"
      echo "recorded edits make both again."
      echo
    fi
    if [ "$(basename "$store")" = design ]; then
      echo "The design-split probe: hand-made harnesses on the *mine* split (where the loop mines and"
      echo "screens, never the test split), paired with minimal on the same seeds. What each one is:"
      echo "\`$(realpath --relative-to=. "$store")/README.md\`."
      echo
    fi
    "$bin" report --store "$store/.self-harness" --markdown "$store/report.md" >/dev/null \
      && cat "$store/report.md" || echo "(nothing measured yet)"
  done
} > "$doc"
echo "==> done: $doc"
