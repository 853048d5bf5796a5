"""Allow ``python -m roadseg``."""

from roadseg.cli.main import cli

if __name__ == "__main__":
    cli()
