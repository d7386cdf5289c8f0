"""``python -m bench`` runs the CLI."""

from bench.cli.app import main

if __name__ == "__main__":
    main()
