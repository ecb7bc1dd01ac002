"""No traceback reaches a CLI user: a table of bad recipes, bundles, flags and prompts, each run through the
console entry point (`cli.main`, in process for speed; one case also as a separate process), must exit 2
with exactly one `error:` line that names the problem."""

import json
import shutil
import subprocess
import sys

import pytest

from dspark_compile import cli as cli_module
from dspark_compile.bundle import MANIFEST, write_manifest

GOOD = "name: r\ntarget: {source: random, family: llama}\n"


def run_main(monkeypatch, capsys, *args) -> tuple[int, str]:
    """Run the console entry point in process; returns (exit status, stderr)."""
    monkeypatch.setattr(sys, "argv", ["dspark-compile", *args])
    with pytest.raises(SystemExit) as exit_:
        cli_module.main()
    return exit_.value.code, capsys.readouterr().err


def _recipe(tmp_path, text: str | bytes, name="r.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def _tampered(tmp_path, bundle, how) -> str:
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    how(copy)
    return str(copy)


def _edit_manifest(edit, redigest):
    def how(path):
        m = json.loads((path / MANIFEST).read_text())
        edit(m)
        if redigest:
            write_manifest(path, m)
        else:
            (path / MANIFEST).write_text(json.dumps(m))
    return how


RECIPE_CASES = {
    "binary recipe": (lambda t: ["build", _recipe(t, bytes(range(256))), "-o", str(t / "o")], "a binary file"),
    "duplicate key": (lambda t: ["build", _recipe(t, GOOD + "name: s\n"), "-o", str(t / "o")],
                      "the key 'name' is given twice"),
    "alias": (lambda t: ["build", _recipe(t, GOOD + "a: &x 1\nb: *x\n"), "-o", str(t / "o")], "alias '*x'"),
    "min_len > max_len": (lambda t: ["build", _recipe(t, GOOD + "speculation: {scheduler: {min_len: 9, max_len: 2}}\n"),
                                     "-o", str(t / "o")], "min_len (9) is above max_len (2)"),
    "empty backends": (lambda t: ["build", _recipe(t, GOOD + "backends: []\n"), "-o", str(t / "o")],
                       "backends is empty"),
    "absurd target.config": (lambda t: ["build", _recipe(t, GOOD.replace("llama}", "llama, config: {hidden_size: "
                                                                                   "99999999}}")), "-o", str(t / "o")],
                             "hidden_size = 99999999"),
    "no recipe": (lambda t: ["build", str(t / "none.yaml"), "-o", str(t / "o")], "recipe file not found"),
    "recipe is a folder": (lambda t: ["build", str(t), "-o", str(t / "o")], "recipe file not found"),
    "output parent is a file": (lambda t: ["build", _recipe(t, GOOD), "-o", _recipe(t, "x", "f") + "/o"],
                                "cannot create its parent folder"),
    "--force onto a folder": (lambda t: ["build", _recipe(t, GOOD), "-o", str(_mkdir(t / "photos")), "--force"],
                              "not a bundle: --force replaces only a bundle"),
    "--force onto .": (lambda t: ["build", _recipe(t, GOOD), "-o", ".", "--force"],
                       "refusing to write a bundle over the current folder"),
}


def _mkdir(path):
    path.mkdir()
    (path / "cat.jpg").write_bytes(b"x")
    return path


@pytest.mark.parametrize("case", sorted(RECIPE_CASES))
def test_bad_recipes_and_outputs(tmp_path, monkeypatch, capsys, case):
    monkeypatch.chdir(tmp_path)
    make_args, expected = RECIPE_CASES[case]
    code, err = run_main(monkeypatch, capsys, *make_args(tmp_path))
    _assert_one_error_line(code, err, expected)
    if case == "--force onto a folder":
        assert (tmp_path / "photos" / "cat.jpg").exists()


BUNDLE_CASES = {
    "no bundle": (lambda t, b: str(t / "nothing"), "no bundle directory here"),
    "edited manifest": (lambda t, b: _tampered(t, b, _edit_manifest(lambda m: m["model"].update(max_context=9), False)),
                        "the manifest was changed after the build"),
    "entry without size": (lambda t, b: _tampered(t, b, _edit_manifest(
        lambda m: m["files"]["target.onnx"].pop("size"), True)), "files['target.onnx'] must be"),
    "unlisted file": (lambda t, b: _tampered(t, b, lambda p: (p / "tokenizer" / "added_tokens.json").write_text("{}")),
                      "'tokenizer/added_tokens.json' is not listed"),
    "old schema": (lambda t, b: _tampered(t, b, _edit_manifest(lambda m: m.update(schema_version=2), True)),
                   "schema_version 2 is not supported"),
    "manifest not JSON": (lambda t, b: _tampered(t, b, lambda p: (p / MANIFEST).write_bytes(b"\xff\x00")),
                          "not valid JSON"),
}


@pytest.mark.parametrize("command", ["inspect", "run"])
@pytest.mark.parametrize("case", sorted(BUNDLE_CASES))
def test_bad_bundles(tmp_path, monkeypatch, capsys, tiny_bundles, case, command):
    make_path, expected = BUNDLE_CASES[case]
    path = make_path(tmp_path, tiny_bundles("llama"))
    args = [command, path] + (["--prompt", "hi", "--max-new-tokens", "2"] if command == "run" else [])
    code, err = run_main(monkeypatch, capsys, *args)
    _assert_one_error_line(code, err, expected)


RUN_CASES = {
    "denormal temperature": (["--temperature", "1e-40"], "temperature = 1e-40"),
    "nan temperature": (["--temperature", "nan"], "temperature = nan"),
    "huge top-k": (["--top-k", "3000000000"], "'--top-k': 3000000000 is not in the range"),
    "top-k above vocab": (["--top-k", "100000", "--temperature", "1"], "top_k = 100000: at most the vocabulary"),
    "threads beyond the machine": (["--threads", "1000"], "'--threads': 1000 is not in the range"),
    "no new tokens": (["--max-new-tokens", "0"], "'--max-new-tokens': 0 is not in the range"),
    "beyond the context": (["--max-new-tokens", "100000"], "needs a context of"),
    "empty prompt": (["--prompt", ""], "the prompt is empty"),
    "invalid UTF-8 prompt": (["--prompt", "caf\udce9"], "the prompt is not valid UTF-8 text"),
    "top-p zero": (["--top-p", "0"], "top_p = 0.0"),
    "unknown flag": (["--temprature", "1"], "No such option '--temprature'"),
}


@pytest.mark.parametrize("case", sorted(RUN_CASES))
def test_bad_flags_and_prompts(monkeypatch, capsys, tiny_bundles, case):
    extra, expected = RUN_CASES[case]
    prompt = [] if "--prompt" in extra else ["--prompt", "hi"]
    code, err = run_main(monkeypatch, capsys, "run", str(tiny_bundles("llama")), *prompt, *extra)
    _assert_one_error_line(code, err, expected)


def _assert_one_error_line(code, err, expected):
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and "Traceback" not in err, err
    assert len(lines) == 1 and expected in err, err


def test_unexpected_errors_are_one_line_with_a_debug_hint(monkeypatch, capsys, tiny_bundles):
    from dspark_compile.runtime import api

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(api.Runtime, "generate", broken)
    code, err = run_main(monkeypatch, capsys, "run", str(tiny_bundles("llama")), "--prompt", "hi")
    assert code == 1 and "Traceback" not in err
    assert err.strip() == ("error: internal error (ZeroDivisionError: a bug); rerun with --debug "
                           "(dspark-compile --debug COMMAND ...) for the traceback and report it")
    monkeypatch.setattr(sys, "argv", ["dspark-compile", "--debug", "run", str(tiny_bundles("llama")), "--prompt", "hi"])
    with pytest.raises(ZeroDivisionError):
        cli_module.main()


def test_as_a_separate_process_with_undecodable_argv_bytes(tiny_bundles):
    proc = subprocess.run([sys.executable.encode(), b"-m", b"dspark_compile.cli", b"run",
                           str(tiny_bundles("llama")).encode(), b"--prompt", b"caf\xe9"], capture_output=True)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err and "the prompt is not valid UTF-8 text" in err


def test_ctrl_c_while_importing_is_one_line(monkeypatch, capsys):
    """The console script imports the CLI inside its own handler (before: a KeyboardInterrupt traceback)."""
    import builtins

    from dspark_compile import __main__ as entry

    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "dspark_compile.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as exit_:
        entry.main()
    assert exit_.value.code == 130 and capsys.readouterr().err == "interrupted\n"
