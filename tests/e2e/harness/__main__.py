"""Command line of the e2e cluster harness: `python -m tests.e2e.harness {build,up,down,status,env,load}`."""

import argparse
import sys

from . import build, cluster, images


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.harness", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build missing binaries into the version cache")
    commands.add_parser("up", help="start the single-node cluster (no-op when it is up)")
    commands.add_parser("down", help="stop exactly what `up` started and remove its state")
    commands.add_parser("status", help="show each process and whether the node is Ready")
    commands.add_parser("env", help="print KUBECONFIG=... and TODOOPS_CONTAINERD_ADDRESS=... lines")
    load = commands.add_parser("load", help="copy local docker images into the cluster's containerd")
    load.add_argument("images", nargs="+", help="image references known to the local docker daemon")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.command == "build":
        build.build_all()
        return 0
    if args.command == "up":
        return cluster.up()
    if args.command == "down":
        return cluster.down()
    if args.command == "status":
        return cluster.status()
    if args.command == "env":
        print(cluster.env_lines())
        return 0
    images.load(args.images)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
