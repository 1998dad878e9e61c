"""python -m ostiary.observability.fail2ban install [--dest DIR] | show filter|jail"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ostiary.observability.fail2ban import FILTER, JAIL, install


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ostiary.observability.fail2ban",
                                     description="Install or print Ostiary's fail2ban filter and jail.")
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="write filter.d/ostiary.conf and jail.d/ostiary.conf")
    inst.add_argument("--dest", default="/etc/fail2ban", help="fail2ban's configuration directory")
    show = sub.add_parser("show", help="print the filter or the jail")
    show.add_argument("what", choices=("filter", "jail"))
    args = parser.parse_args(argv)
    if args.command == "show":
        sys.stdout.write((FILTER if args.what == "filter" else JAIL).read_text())
        return 0
    for path in install(Path(args.dest)):
        print(f"wrote {path}")
    print("now: fail2ban-client reload (or systemctl reload fail2ban)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
