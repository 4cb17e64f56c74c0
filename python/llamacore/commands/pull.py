"""`llamacore pull MODEL...`: download catalog or hf: models into the cache and print their paths."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="*", metavar="MODEL", help="catalog name or hf:ORG/REPO/FILE.gguf")
    parser.add_argument("--force", action="store_true", help="download again even if the file is in the cache")
    parser.add_argument("--list", action="store_true", help="list the built-in catalog and what is downloaded")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def main(args: argparse.Namespace) -> int:
    from .. import hub

    if args.list or not args.models:
        folder = hub.models_dir()
        for entry in hub.CATALOG.values():
            here = "downloaded" if (folder / entry.filename).exists() else f"{entry.size / 1e6:.0f} MB"
            print(f"{entry.name:24} {here:11} {entry.description}")
        print(f"cache: {folder}")
        return 0
    for name in args.models:
        path = hub.pull(name, force=args.force, progress=None if not args.quiet else False)
        print(path)
    return 0
