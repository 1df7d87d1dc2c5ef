"""Command line: ``python -m nethelpers doctor | clean | commands LABFILE | check LABFILE | answers NOTEBOOK... | editions extract|build|check | site``."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nethelpers", description=__doc__.split(":")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="say what this machine allows, and what to do about each gap")
    clean = sub.add_parser("clean", help="end lab engines whose owner is gone")
    clean.add_argument("--all", action="store_true", help="end every lab engine of this user")
    for name, text in (("check", "validate a lab file"), ("commands", "print the ip/bridge/nft commands of a lab file")):
        p = sub.add_parser(name, help=text)
        p.add_argument("labfile")
    answers = sub.add_parser("answers", help="tabulate learners' predictions in notebooks against the answer key")
    answers.add_argument("--key", help="the answer key (default: tests/answers.json of this checkout)")
    answers.add_argument("notebooks", nargs="+", metavar="NOTEBOOK")
    editions = sub.add_parser("editions", help="the translated editions: update their catalogs from the notebooks "
                              "(extract), write and run notebooks/zh/ (build), say what is missing or drifted (check)")
    editions.add_argument("action", choices=["extract", "build", "check"])
    editions.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="build or check these only (their stems)")
    editions.add_argument("--no-execute", action="store_true", help="build without running the notebooks")
    site = sub.add_parser("site", help="build the course website from the executed notebooks")
    site.add_argument("--out", help="where to write it (default: build/site)")
    site.add_argument("--edition", action="append", default=[], metavar="EDITION=FOLDER",
                      help="build an edition from another folder of notebooks (e.g. zh=/tmp/zh), to preview it")
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from .doctor import main as doctor

        return doctor()
    if args.command == "clean":
        from .clean import main as clean_main

        return clean_main(args.all)
    if args.command == "editions":
        from .editions import main as editions_main

        names = [name.removesuffix(".ipynb").split("/")[-1] for name in args.notebooks]
        return editions_main(args.action, names=names or None, run=not args.no_execute)
    if args.command == "site":
        from .site import main as site_main

        return site_main(args.out, args.edition)
    if args.command == "answers":
        from .answers import main as answers_main

        return answers_main(args.notebooks, args.key)
    from .errors import TopologyError
    from .topology import Topology

    try:
        topo = Topology.from_file(args.labfile).validate()  # a path, even if it looks like YAML
    except TopologyError as e:
        print(e, file=sys.stderr)
        return 2
    print(topo.commands() if args.command == "commands" else f"{args.labfile}: valid ({topo!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
