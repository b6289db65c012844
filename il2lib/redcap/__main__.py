"""``python -m il2lib.redcap check FILE`` (check a data dictionary CSV) and ``write-template [DIR]``."""
from __future__ import annotations

import sys

from il2lib.errors import CohortFileError
from il2lib.redcap.checker import check_dictionary
from il2lib.redcap.template import TEMPLATE_DIR, write_template

USAGE = ("usage: python -m il2lib.redcap check FILE        check a REDCap data dictionary CSV\n"
         "       python -m il2lib.redcap write-template [DIR]  rewrite the project template (default redcap/)")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    if args[0] == "check" and len(args) == 2:
        try:
            problems = check_dictionary(args[1])
        except CohortFileError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        for problem in problems:
            print(problem)
        print(f"{args[1]}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
              + ("" if problems else "; the dictionary follows REDCap's rules."))
        return 1 if problems else 0
    if args[0] == "write-template" and len(args) <= 2:
        for path in write_template(args[1] if len(args) == 2 else TEMPLATE_DIR):
            print(path)
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
