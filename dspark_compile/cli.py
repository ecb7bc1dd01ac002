"""The `dspark-compile` command: a thin layer over the library; user errors print without a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

import click

from dspark_compile.errors import DSparkError


def _console():
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def _step_printer(console):
    """A `step(name)` context manager printing each build step with a spinner and its duration."""

    @contextlib.contextmanager
    def step(name: str):
        t0 = time.perf_counter()
        with console.status(f"{name} ..."):
            yield
        console.print(f"[green]✓[/green] {name} [dim]({time.perf_counter() - t0:.1f}s)[/dim]", soft_wrap=True)

    yield step


_DEBUG = {"on": bool(os.environ.get("DSPARK_DEBUG"))}
CPUS = os.cpu_count() or 1


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dspark-compile")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error (also: DSPARK_DEBUG=1).")
def cli(debug: bool) -> None:
    """Compile a target LLM (and a DSpark drafter) into a bundle of engines, and run it."""
    _DEBUG["on"] = _DEBUG["on"] or debug


@cli.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path), help="Bundle directory to write.")
@click.option("--force", is_flag=True, help="Replace an existing bundle at OUTPUT.")
@click.option("--dry-run", is_flag=True, help="Check the recipe, the target's config and the drafter checkpoint "
              "(configs and tensor shapes only), print the plan and write nothing.")
def build(recipe: Path, output: Path, force: bool, dry_run: bool) -> None:
    """Build the bundle for RECIPE (a YAML file) into OUTPUT (needs the compile extra)."""
    import json

    from dspark_compile.build import build_bundle, plan_bundle
    from dspark_compile.config import load_recipe

    rec = load_recipe(recipe)
    console = _console()
    if dry_run:
        console.print(json.dumps(plan_bundle(rec), indent=2), soft_wrap=True, markup=False)
        return
    console.print(f"building [bold]{rec.name}[/bold] from {recipe} -> {output}")
    with _step_printer(console) as step:
        path = build_bundle(rec, output, force=force, step=step,
                            notify=lambda message: console.print(f"[yellow]{message}[/yellow]", soft_wrap=True))
    console.print(f"[bold green]bundle ready:[/bold green] {path}")


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--prompt", "prompts", multiple=True, required=True, help="A prompt; repeat for a batch.")
@click.option("--chat", is_flag=True, help="Wrap each prompt in the tokenizer's chat template.")
@click.option("--max-new-tokens", default=128, show_default=True, type=click.IntRange(1))
@click.option("--temperature", default=0.0, show_default=True, type=float, help="0 is greedy.")
@click.option("--top-k", default=0, show_default=True, type=click.IntRange(0, 2**31 - 1), help="0 is off.")
@click.option("--top-p", default=1.0, show_default=True, type=float, help="1 is off.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))
@click.option("--threads", default=None, type=click.IntRange(0, CPUS),
              help=f"Engine threads, at most this machine's {CPUS} (default: the recipe's).")
@click.option("--scheduler", "mode", type=click.Choice(["recipe", "off", "fixed", "threshold", "survival", "cost"]),
              default="recipe", show_default=True, help="Verification depth policy; 'off' decodes plainly.")
@click.option("--stats", is_flag=True, help="Print τ, acceptance, verify lengths, time split and speed.")
@click.option("--stream", is_flag=True, help="Print text as it is generated (one prompt).")
@click.option("--stop", "stops", multiple=True, help="A stop string; repeat for several.")
@click.option("--json", "as_json", is_flag=True, help="Print results (and --stats) as JSON.")
@click.option("--backend", type=click.Choice(["onnxruntime", "tensorrt"]), default=None,
              help="Engines to run (default: the bundle's TensorRT plans when it has them, else ONNX Runtime).")
def run(bundle: Path, prompts: tuple[str, ...], chat: bool, max_new_tokens: int, temperature: float,
        top_k: int, top_p: float, seed: int, threads: int | None, mode: str, stats: bool, stream: bool,
        stops: tuple[str, ...], as_json: bool, backend: str | None) -> None:
    """Generate text for one or more prompts with BUNDLE."""
    from dspark_compile.config import SchedulerConfig
    from dspark_compile.runtime.api import Runtime
    from dspark_compile.runtime.sampling import SamplingParams

    sampling = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    rt = Runtime.load(bundle, threads=threads, backend=backend)
    sched = None if mode == "recipe" else rt.scheduler_config.model_copy(update={"mode": mode})
    if stream:
        if len(prompts) != 1 or as_json:
            raise click.UsageError("--stream takes exactly one --prompt and no --json")
        for _, text, _ in rt.stream(list(prompts), max_new_tokens, sampling, chat, sched, stop=stops):
            click.echo(text, nl=False)
        click.echo()
        return
    results = rt.generate(list(prompts), max_new_tokens=max_new_tokens, sampling=sampling, chat=chat,
                          scheduler=sched, stop=stops)
    if as_json:
        rows = [{"prompt": p, **r.to_dict()} for p, r in zip(prompts, results)]
        click.echo(json.dumps({"results": rows, "stats": results.metrics()} if stats else rows, indent=2))
        return
    for p, r in zip(prompts, results):
        if len(prompts) > 1:
            click.echo(f"### {p}")
        click.echo(r.text)
        s = r.stats
        tps = len(r.tokens) / s.seconds if s.seconds else 0.0
        click.echo(f"[{len(r.tokens)} tokens, {r.finish_reason}, {tps:.1f} tokens/s]", err=True)
    if stats:
        for key, value in results.metrics().items():
            click.echo(f"{key:>26}: {value}", err=True)


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
@click.option("--no-verify", is_flag=True, help="Skip the checksum verification.")
def inspect(bundle: Path, as_json: bool, no_verify: bool) -> None:
    """Verify BUNDLE and describe its engines, model and versions."""
    from dspark_compile.bundle import load_bundle

    b = load_bundle(bundle, verify=not no_verify)
    if as_json:
        click.echo(json.dumps(b.manifest, indent=2))
        return
    try:
        _describe_bundle(b.manifest, no_verify)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        from dspark_compile.errors import BundleError

        raise BundleError(f"{bundle}: the manifest verifies but lacks or garbles a field that inspect shows "
                          f"({type(exc).__name__}: {exc}); see it with inspect --json") from None


def _describe_bundle(m: dict, no_verify: bool) -> None:
    from rich.table import Table

    console = _console()
    model = m["model"]
    console.print(f"[bold]{m['recipe']['name']}[/bold]  {m.get('source', '')}  schema {m['schema_version']}  "
                  f"built {m['created']}  checksums {'skipped' if no_verify else 'ok'}")
    console.print(f"model: {model['family']}, {model['num_layers']} layers, hidden {model['hidden_size']}, "
                  f"vocab {model['vocab_size']}, {model['dtype']}, taps {model['tap_layers']}, "
                  f"context {model['max_context']}")
    for role, eng in m["engines"].items():
        table = Table(title=f"engine '{role}' ({eng['backend']}: {', '.join(eng['files'])})")
        for col in ("io", "name", "shape", "dtype"):
            table.add_column(col)
        for kind in ("inputs", "outputs"):
            specs = eng[kind]
            for s in specs if len(specs) <= 8 else specs[:6]:
                table.add_row(kind[:-1], s["name"], str(s["shape"]), s["dtype"])
            if len(specs) > 8:
                table.add_row(kind[:-1], f"... {len(specs) - 6} more", "", "")
        console.print(table)
    files = Table(title="files")
    for col in ("file", "bytes", "sha256"):
        files.add_column(col)
    for rel, meta in m["files"].items():
        files.add_row(rel, f"{meta['size']:,}", meta["sha256"][:16] + "…")
    files.add_row("total", f"{sum(meta['size'] for meta in m['files'].values()):,}", "")
    console.print(files)
    console.print("versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))


class _Reporter:
    """Progress of long training runs: live bars on a terminal, one line every few updates in a log file."""

    def __init__(self, console, every: int = 10):
        self.console, self.every = console, every
        self.live = console.is_terminal
        self._progress = None
        self._task = None

    @contextlib.contextmanager
    def bars(self):
        if not self.live:
            yield self
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=self.console, transient=True) as self._progress:
            yield self
        self._progress = None

    def work(self, done: int, total: int) -> None:
        """Generation/extraction progress (done of total sequences)."""
        if self._progress is not None:
            if self._task is None or self._progress.tasks[-1].total != total or done == 0:
                self._task = self._progress.add_task("sequences", total=total)
            self._progress.update(self._task, completed=done)
        elif done == total or done % (self.every * 8) < 16:
            self.console.print(f"  {done}/{total} sequences")

    def train(self, log) -> None:
        """One training step's StepLog."""
        text = (f"step {log.step}/{log.steps}  loss {log.loss:.4f} (ce {log.ce:.3f} l1 {log.l1:.3f} "
                f"bce {log.bce:.3f})  acc {log.accuracy:.3f}  lr {log.lr:.2e}  {log.slots_per_s:.0f} tok/s  "
                f"ETA {log.eta_s / 60:.1f} min")
        if self._progress is not None:
            if self._task is None or self._progress.tasks[-1].description.startswith("seq"):
                self._task = self._progress.add_task("train", total=log.steps, completed=log.step)
            self._progress.update(self._task, completed=log.step, description=text)
            if log.step % (self.every * 10) == 0:
                self._progress.console.print(text)
        elif log.step % self.every == 0 or log.step in (1, log.steps):
            self.console.print(text, soft_wrap=True)  # one line per step in a log file
        if log.monitor:
            self.console.print(f"  step {log.step}: {monitor_text(log.monitor)}", soft_wrap=True)


@cli.command("train-draft")
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Drafter directory to write (config.json + model.safetensors).")
@click.option("--work", required=True, type=click.Path(path_type=Path),
              help="Folder for the target bundle, answers, features and checkpoints (reused: a rerun resumes).")
@click.option("--bundle", type=click.Path(path_type=Path), help="Use this bundle of the recipe's target instead of building one.")
@click.option("--steps", type=click.IntRange(1), help="Override training.steps of the recipe.")
@click.option("--init", "init", type=click.Path(path_type=Path),
              help="Start from this drafter's weights (same shape) instead of a random init; a checkpoint "
                   "already in --work is resumed instead.")
def train_draft(recipe: Path, output: Path, work: Path, bundle: Path | None, steps: int | None,
                init: Path | None) -> None:
    """Self-distil a DSpark drafter for RECIPE's target (settings: the recipe's `training` section)."""
    from dspark_compile.build import require_compile_stack

    require_compile_stack("train-draft")
    from dspark_compile.config import load_recipe
    from dspark_compile.train.pipeline import train_draft as run_training

    rec = load_recipe(recipe, need_draft=False)  # it writes the drafter; the recipe may name where it will ship
    console = _console()
    reporter = _Reporter(console)
    with _step_printer(console) as step, reporter.bars():
        rep = run_training(rec, output, work, bundle=bundle, steps=steps, step=step, progress=reporter.work,
                           on_step=reporter.train, init=init)
    console.print(f"[bold green]drafter ready:[/bold green] {rep.out}  ({rep.steps} steps, loss {rep.final_loss:.4f}, "
                  f"slot accuracy {rep.final_accuracy:.3f}, {rep.trainable_params:,} trainable parameters, "
                  f"{rep.bytes_on_disk / 1e6:.1f} MB on disk, {rep.train_positions:,} training positions, "
                  f"mean target mass outside the stored top-K {rep.mean_dropped_mass:.4f})", soft_wrap=True)
    if rep.monitor:
        console.print(f"last check: {monitor_text(rep.monitor)}", soft_wrap=True)


@cli.command("export-drafter")
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Directory to write (config.json + model.safetensors, DeepSpec's layout).")
@click.option("--drafter", "drafter", type=click.Path(path_type=Path),
              help="Drafter directory to export (default: the recipe's draft.path), e.g. a train-draft output.")
@click.option("--dtype", type=click.Choice(["bf16", "fp16", "fp32"]), default="bf16", show_default=True,
              help="Tensor dtype on disk (DeepSpec's trainer writes bf16).")
def export_drafter_cmd(recipe: Path, output: Path, drafter: Path | None, dtype: str) -> None:
    """Write a drafter as a DeepSpec-loadable checkpoint (embeddings and lm_head of RECIPE's target included)."""
    from dspark_compile.config import load_recipe
    from dspark_compile.train.pipeline import export_for_deepspec

    out = export_for_deepspec(load_recipe(recipe), output, drafter, dtype)
    _console().print(f"[bold green]DeepSpec checkpoint written:[/bold green] {out}", soft_wrap=True)


@cli.command("draft-vocab")
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--drafter", "drafter", type=click.Path(path_type=Path),
              help="Drafter directory (default: the recipe's draft.path).")
@click.option("--size", type=click.IntRange(1), help="Tokens in the draft vocabulary (EOS is added); omit to "
                                                     "remove the draft vocabulary.")
@click.option("--work", required=True, type=click.Path(path_type=Path),
              help="Folder for the target's training answers and features (reused, as train-draft's).")
@click.option("--bundle", type=click.Path(path_type=Path), help="Use this bundle of the recipe's target instead of building one.")
def draft_vocab_command(recipe: Path, drafter: Path | None, size: int | None, work: Path, bundle: Path | None) -> None:
    """Let a trained drafter score only the SIZE tokens with the most target mass on the training answers."""
    from dspark_compile.train.pipeline import add_draft_vocab

    rec, drafter = _recipe_and_drafter(recipe, drafter)
    console = _console()
    reporter = _Reporter(console)
    with _step_printer(console) as step, reporter.bars():
        rep = add_draft_vocab(rec, drafter, size, work, bundle=bundle, step=step, progress=reporter.work)
    console.print(f"[bold green]draft vocabulary:[/bold green] {rep.size} tokens, {rep.coverage:.4f} of the "
                  f"target's mass on the training answers (written to {rep.drafter})", soft_wrap=True)


def _recipe_and_drafter(recipe: Path, drafter: Path | None):
    """The recipe, and the drafter directory: `drafter`, else the recipe's checkpoint (TrainingError if none)."""
    from dspark_compile.config import load_recipe
    from dspark_compile.errors import TrainingError

    rec = load_recipe(recipe)
    if drafter is None:
        if rec.draft.source != "checkpoint":
            raise TrainingError(f"{recipe}: draft.source is '{rec.draft.source}'; name the drafter with --drafter DIR")
        drafter = rec.resolve(rec.draft.path)
    return rec, drafter


def monitor_text(monitor: dict) -> str:
    """'greedy slot accuracy (teacher-forced) held-out 0.46 0.32 … | train 0.76 0.77 …'"""
    return "greedy slot accuracy (teacher-forced) " + " | ".join(
        f"{name} " + " ".join(f"{a:.2f}" for a in acc) for name, acc in monitor.items())


@cli.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--drafter", "drafter", type=click.Path(path_type=Path),
              help="Drafter directory (default: the recipe's draft.path).")
@click.option("--work", required=True, type=click.Path(path_type=Path), help="Folder for the held-out answers and features.")
@click.option("--bundle", type=click.Path(path_type=Path), help="Use this bundle of the recipe's target instead of building one.")
@click.option("--dry-run", is_flag=True, help="Report only; leave the drafter unchanged.")
@click.option("--offset/--no-offset", default=True, show_default=True,
              help="Also fit one shift of the confidence logit shared by all slots (stored in the head's bias); "
                   "--no-offset: STS temperatures only.")
@click.option("--anchors", type=click.Choice(["every", "visited"]), default="every", show_default=True,
              help="Fit on every held-out anchor, or only on those the runtime drafts from (each after the last "
                   "round's accepted drafts); the result is measured on both.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def calibrate(recipe: Path, drafter: Path | None, work: Path, bundle: Path | None, dry_run: bool, offset: bool,
              anchors: str, as_json: bool) -> None:
    """Fit STS temperatures (and a confidence offset) on held-out prompts and store them with the drafter."""
    from dspark_compile.build import require_compile_stack

    require_compile_stack("calibrate")
    import dataclasses

    from dspark_compile.train.pipeline import calibrate_drafter

    rec, drafter = _recipe_and_drafter(recipe, drafter)
    console = _console()
    reporter = _Reporter(console)
    with _step_printer(console) as step, reporter.bars():
        rep = calibrate_drafter(rec, drafter, work, bundle=bundle, step=step, progress=reporter.work,
                                write=not dry_run, offset=offset, anchors=anchors)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(rep), indent=2, default=str))
        return
    from rich.table import Table

    where = "the anchors the runtime visits" if rep.anchors == "visited" else "every anchor"
    table = Table(title=f"cumulative survivals vs prefix acceptance ({rep.blocks} full blocks at {where}, "
                        f"{rep.sequences} held-out sequences; fitted on 'fit', checked on 'eval')")
    for col in ("half", "blocks", "ECE as it was", "ECE before", "ECE STS only", "ECE after", "AUROC before",
                "AUROC after", "Brier before", "Brier after"):
        table.add_column(col)
    for half in rep.before:
        b, s, a, c = rep.before[half], rep.sts_only[half], rep.after[half], rep.current[half]
        table.add_row(half, str(b.blocks), f"{c.ece:.4f}", f"{b.ece:.4f}", f"{s.ece:.4f}", f"{a.ece:.4f}",
                      f"{b.auroc:.4f}", f"{a.auroc:.4f}", f"{b.brier:.4f}", f"{a.brier:.4f}")
    console.print(table)
    console.print("ECE as written, at the anchors the runtime visits: "
                  + ", ".join(f"{half} {c.ece:.4f} ({c.blocks} blocks)" for half, c in rep.visited.items()))
    console.print(f"STS only: temperatures {list(rep.sts_only_temperatures)}")
    console.print(f"written: confidence offset {rep.offset:+.2f}, STS temperatures {list(rep.temperatures)}"
                  + (" (dry run: nothing written)" if dry_run else f"  (to {drafter})"))
    console.print(f"P(slots 0..k accepted), greedy, full blocks, every anchor: {rep.acceptance}; "
                  f"the anchors the runtime visits: {rep.acceptance_visited}")
    console.print(f"τ with the full block verified (greedy): {rep.tau_full_block:.3f} at every anchor, "
                  f"{rep.tau_visited:.3f} at the anchors the runtime visits")


@cli.command("measure-costs")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(1), help="Timed runs per point (median).")
@click.option("--threads", default=0, show_default=True, type=click.IntRange(0, CPUS),
              help="Engine threads (0: the backend chooses).")
@click.option("--backend", type=click.Choice(["onnxruntime", "tensorrt"]), default="onnxruntime", show_default=True,
              help="Whose engines to time (tensorrt: the plans `engines` built; stored as costs_tensorrt).")
def measure_costs(bundle: Path, repeats: int, threads: int, backend: str) -> None:
    """Re-measure BUNDLE's verify cost table on this machine and store it in the manifest."""
    from dspark_compile.costs import remeasure

    console = _console()
    with console.status("measuring the verify and drafter steps ..."):
        costs = remeasure(bundle, repeats=repeats, threads=threads, backend=backend)
    greedy, sampled = costs["draft_ms"]["greedy"], costs["draft_ms"]["sampled"]
    one = costs.get("slot_ms", {}).get("greedy")
    drafter = f"; drafter step {greedy[0]:.2f} ms at 1 row, {greedy[-1]:.2f} ms at {costs['batch_sizes'][-1]} " \
        f"(sampled {sampled[0]:.2f} / {sampled[-1]:.2f} ms" + \
        (f"; drafting one slot {one[0]:.2f} / {one[-1]:.2f} ms)" if one else ")")
    console.print(f"cost table for batch sizes {costs['batch_sizes']} x {costs['tokens_per_row'][-1]} tokens per row "
                  f"written to {bundle}/manifest.json (verify, 1 row: {costs['ms'][0][0]:.2f} ms for 1 token, "
                  f"{costs['ms'][0][-1]:.2f} ms for {costs['tokens_per_row'][-1]}{drafter})")


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--scheduler", "mode", type=click.Choice(["recipe", "off", "fixed", "threshold", "cost"]),
              default="recipe", show_default=True, help="Verification depth policy; 'off' decodes plainly.")
@click.option("--max-queue", default=256, show_default=True, type=click.IntRange(1),
              help="Requests waiting for their first token beyond which new ones get 429.")
@click.option("--drain-timeout", default=30.0, show_default=True, type=click.FloatRange(0),
              help="Seconds requests in flight get to finish after SIGTERM before they end with an error.")
@click.option("--threads", default=None, type=click.IntRange(0), help="Engine threads (default: the recipe's).")
@click.option("--model-name", default=None, help="The model id clients name (default: the recipe's name).")
@click.option("--ignore-eos", is_flag=True, help="Generate max_tokens for every request (benchmarks).")
def serve(bundle: Path, host: str, port: int, mode: str, max_queue: int, drain_timeout: float,
          threads: int | None, model_name: str | None, ignore_eos: bool) -> None:
    """Serve BUNDLE over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /metrics)."""
    from dspark_compile.serve.server import ServeConfig, serve as run_server

    config = ServeConfig(host=host, port=port, scheduler=mode, max_queue=max_queue, drain_timeout=drain_timeout,
                         threads=threads, ignore_eos=ignore_eos, model_name=model_name)
    console = _console()

    def ready(engine) -> None:
        console.print(f"serving {bundle} on http://{host}:{port} (GET /ready turns 200 once warmed up)", soft_wrap=True)

    run_server(bundle, config, on_ready=ready)
    console.print("stopped")


@cli.command("export-triton")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("-o", "--output", "repo", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Triton model repository to write into (created if missing).")
@click.option("--name", default="dspark", show_default=True, help="Model name (its folder in the repository).")
@click.option("--decoupled/--no-decoupled", default=True, show_default=True,
              help="Decoupled: stream one response per step (gRPC streaming); otherwise one response per request.")
@click.option("--copy", is_flag=True, help="Copy the bundle into the repository (self-contained) instead of naming its path.")
@click.option("--threads", default=0, show_default=True, type=click.IntRange(0), help="Engine threads (0: the recipe's).")
@click.option("--max-queue", default=256, show_default=True, type=click.IntRange(1))
@click.option("--force", is_flag=True, help="Replace an existing model of that name.")
def export_triton(bundle: Path, repo: Path, name: str, decoupled: bool, copy: bool, threads: int, max_queue: int,
                  force: bool) -> None:
    """Write a Triton Inference Server model (Python backend) serving BUNDLE into the repository REPO."""
    from dspark_compile.serve.triton.export import export_triton as export

    model = export(bundle, repo, name=name, decoupled=decoupled, copy=copy, threads=threads, max_queue=max_queue,
                   force=force)
    _console().print(f"wrote {model} (serve it: tritonserver --model-repository {repo})", soft_wrap=True)


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--backend", type=click.Choice(["tensorrt"]), default="tensorrt", show_default=True)
@click.option("--plugins", type=click.Path(path_type=Path, dir_okay=False),
              help="libdspark_plugins.so.<TensorRT major> (default: $DSPARK_PLUGIN_LIBRARY, then plugins/build/).")
@click.option("--hardware-compatibility", type=click.Choice(["none", "ampere_plus"]), default=None,
              help="Override the recipe's tensorrt.hardware_compatibility.")
@click.option("--version-compatible/--no-version-compatible", default=None,
              help="Override the recipe's tensorrt.version_compatible.")
@click.option("--timing-cache", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="TensorRT timing cache file, read before and written after the build.")
@click.option("--costs/--no-costs", "costs", default=True, show_default=True,
              help="Measure the cost table on the new plans afterwards (bundles with a drafter).")
def engines(bundle: Path, backend: str, plugins: Path | None, hardware_compatibility: str | None,
            version_compatible: bool | None, timing_cache: Path | None, costs: bool) -> None:
    """Build BUNDLE's TensorRT plans on this machine (its GPU, its TensorRT) and add them to the manifest."""
    from dspark_compile.ship.engines import build_device_engines

    overrides = {k: v for k, v in (("hardware_compatibility", hardware_compatibility),
                                   ("version_compatible", version_compatible),
                                   ("timing_cache", str(timing_cache) if timing_cache else None)) if v is not None}
    console = _console()
    with console.status(f"building {backend} engines ..."):
        built = build_device_engines(bundle, backend, str(plugins) if plugins else None, overrides)
    for role, entry in built.items():
        info = entry["tensorrt"]
        console.print(f"[green]✓[/green] {role}: {entry['files'][0]} (TensorRT {info['tensorrt_version']}, "
                      f"{info['gpu']} {info['sm']}, sha256 {info['plan_sha256'][:16]}…)", soft_wrap=True)
    from dspark_compile.bundle import load_bundle
    from dspark_compile.config import DEVICE_SM

    device = load_bundle(bundle, verify=False).recipe.get("device")
    if device and info["sm"] not in DEVICE_SM[device]:
        console.print(f"[yellow]note:[/yellow] the recipe's device preset is '{device}' ({', '.join(DEVICE_SM[device])}); "
                      f"these plans are for {info['sm']} and run only there", soft_wrap=True)
    if costs and any(r.startswith("drafter") for r in built):
        from dspark_compile.costs import remeasure

        with console.status("measuring the verify and drafter steps on the plans ..."):
            remeasure(bundle, backend=backend)
        console.print("[green]✓[/green] cost table measured on the plans (costs_tensorrt)")


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The tar file to write.")
@click.option("--force", is_flag=True, help="Replace an existing file at OUTPUT.")
def pack(bundle: Path, output: Path, force: bool) -> None:
    """Verify BUNDLE and write it (the manifest and every file it lists) to one tar file."""
    from dspark_compile.ship.pack import pack_bundle

    out, b = pack_bundle(bundle, output, force=force)
    size = sum(m["size"] for m in b.manifest["files"].values())
    click.echo(f"packed {len(b.manifest['files'])} files ({size / 1e6:.1f} MB) of {b.recipe['name']} into {out}")


@cli.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Bundle directory to create.")
@click.option("--force", is_flag=True, help="Replace an existing bundle at OUTPUT.")
def unpack(archive: Path, output: Path, force: bool) -> None:
    """Extract a packed bundle to OUTPUT; it is moved into place only when every file's sha256 matches."""
    from dspark_compile.ship.pack import unpack_bundle

    b = unpack_bundle(archive, output, force=force)
    click.echo(f"unpacked {b.recipe['name']} to {b.root}: {len(b.manifest['files'])} files verified (sha256)")


from dspark_compile.bench.cli import bench as _bench; cli.add_command(_bench)  # noqa: E402, E702
from dspark_compile.simulate.cli import simulate as _simulate; cli.add_command(_simulate)  # noqa: E402, E702


class _Terminated(SystemExit):
    """SIGTERM, raised in the main thread so that `with` blocks clean up (a build removes its partial folder)."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated(143)


def main() -> None:
    """Console entry point: typed errors and I/O errors become one `error:` line on stderr and exit status 2;
    anything unexpected is one line and exit status 1, with the traceback under --debug."""
    import signal

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        cli.main(standalone_mode=False, prog_name="dspark-compile")
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:  # bad flags and arguments: one line too, with where to read more
        ctx = getattr(exc, "ctx", None)
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except DSparkError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except _Terminated:
        click.echo("terminated", err=True)
        sys.exit(143)
    except OSError as exc:
        if _DEBUG["on"]:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        click.echo(f"error: {exc.strerror or exc}{where}", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 (the last line of defence: one line, not a traceback)
        if _DEBUG["on"]:
            raise
        detail = " ".join(str(exc).split())[:300]
        click.echo(f"error: internal error ({type(exc).__name__}: {detail}); rerun with --debug "
                   "(dspark-compile --debug COMMAND ...) for the traceback and report it", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
