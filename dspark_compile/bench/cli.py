"""`dspark-compile bench BUNDLE`: a thin layer over `run_bench`, `render` and `write_plots`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dspark_compile.bench.config import DEFAULT_PROMPTS, MODES, PEERS, BenchConfig


def _ints(ctx, param, value: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected comma-separated integers, e.g. 1,4,16") from None


def _names(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def reporter(console, status):
    """A progress callback: the status line on a terminal, one line per cell in a log file."""
    def progress(what: str, done: int, total: int) -> None:
        if console.is_terminal:
            status.update(f"[{done}/{total}] {what}")
        else:
            console.print(f"[{done}/{total}] {what}", highlight=False)

    return progress


def write_results(result, data: dict, output: Path, console) -> None:
    """results.json (`data`) and the PNG figures of `result` into `output`."""
    from dspark_compile.bench.plots import write_plots

    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    figures = write_plots(result, output)
    console.print(f"wrote {output / 'results.json'} and {len(figures)} figures to {output}")


@click.command()
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--levels", default="1,4,16", show_default=True, callback=_ints, help="Concurrent clients per load level.")
@click.option("--new-tokens", default=32, show_default=True, type=click.IntRange(2), help="Tokens per request (EOS ignored).")
@click.option("--requests-per-client", default=2, show_default=True, type=click.IntRange(1))
@click.option("--repeats", default=1, show_default=True, type=click.IntRange(1),
              help="Passes over all arms (their order rotated per pass); rows are medians over passes.")
@click.option("--fixed", "fixed", default=None, callback=_ints, help="γ of the fixed arms [default: 2,4,block size].")
@click.option("--modes", default=",".join(MODES), show_default=True, help="greedy, sampled, or both.")
@click.option("--temperature", default=0.7, show_default=True, type=float, help="Of the sampled mode.")
@click.option("--top-p", default=1.0, show_default=True, type=float, help="Of the sampled mode.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))
@click.option("--peers", default="generate,prompt-lookup", show_default=True,
              help=f"Peer arms at concurrency 1, of {', '.join(PEERS)} (llama-cpp: llama.cpp on the target's GGUF, "
                   "needs llama-cpp-python); '' for none.")
@click.option("--prompt-lookup-tokens", default=10, show_default=True, type=click.IntRange(1))
@click.option("--arms", "arm_names", default="", help="Only these arms, e.g. plain,fixed-4,cost [default: all].")
@click.option("--prompts", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_PROMPTS,
              show_default="benchmarks/prompts.txt", help="One prompt per line.")
@click.option("--chat/--no-chat", default=None, help="Wrap prompts in the chat template [default: if the tokenizer has one].")
@click.option("--threads", type=click.IntRange(0), default=None, help="Engine and torch threads [default: the recipe's].")
@click.option("--url", default=None, help="Also measure a running `dspark-compile serve BUNDLE --ignore-eos` at this "
                                       "address (arm 'server'; OpenAI API, streamed).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write results.json and the PNG figures into this folder.")
@click.option("--trace", type=click.Path(dir_okay=False, path_type=Path),
              help="Save every drafted round's survivals and accepted drafts, and the step times, as an acceptance "
                   "trace (JSON) for `dspark-compile simulate`.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout instead of the table.")
def bench(bundle: Path, levels, new_tokens, requests_per_client, repeats, fixed, modes, temperature, top_p, seed, peers,
          prompt_lookup_tokens, arm_names, prompts, chat, threads, url, output, trace, as_json) -> None:
    """Per-user speed and throughput of BUNDLE's arms under closed-loop load, side by side."""
    from rich.console import Console

    from dspark_compile.bench.report import render
    from dspark_compile.bench.runner import run_bench

    config = BenchConfig(levels=levels, new_tokens=new_tokens, requests_per_client=requests_per_client, repeats=repeats,
                         fixed_lens=fixed, modes=_names(modes), temperature=temperature, top_p=top_p, seed=seed,
                         peers=_names(peers), prompt_lookup_tokens=prompt_lookup_tokens, threads=threads,
                         prompts=prompts, chat=chat, arm_names=_names(arm_names), url=url)
    console = Console(stderr=True)
    with console.status("loading ...") as status:
        result = run_bench(bundle, config, progress=reporter(console, status))
    data = result.to_dict()
    if output:
        write_results(result, data, output, console)
    if trace:
        from dspark_compile.simulate.trace import Trace

        Trace.from_bench(result).save(trace)
        console.print(f"wrote the acceptance trace to {trace}")
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        render(result, Console() if sys.stdout.isatty() else Console(width=160))  # a file: no wrapping at 80
