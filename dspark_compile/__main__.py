"""The console entry point, kept apart from `cli` so that Ctrl-C while the CLI's modules are still being
imported is a one-line "interrupted" too, not a traceback (`python -m dspark_compile` works as well)."""

import sys


def main() -> None:
    """Import the CLI and run it; an interrupt during the import exits 130 like one during a command."""
    try:
        from dspark_compile.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    cli_main()


if __name__ == "__main__":
    main()
