#!/usr/bin/python3
"""cover-letter.py NEW OLD: print the cover letter NEW (git format-patch
--cover-letter output) with the sender, date, subject and text of OLD, the
cover letter it replaces, so that the text is edited in OLD and the shortlog
and diffstat stay current.  Without OLD, NEW's placeholders are kept and a
warning is printed.
"""
import os
import re
import sys

SUBJECT = "*** SUBJECT HERE ***"
BLURB = "*** BLURB HERE ***"


def split(text):
    """(headers, subject, blurb, rest) of a format-patch cover letter."""
    head, _, body = text.partition("\n\n")
    m = re.search(r"^Subject: \[PATCH[^\]]*\] (.*(?:\n .*)*)", head, re.M)
    if not m:
        sys.exit("no Subject: [PATCH ...] line")
    subject = " ".join(line.strip() for line in m.group(1).split("\n"))
    # The shortlog starts with "Author Name (N):".
    s = re.search(r"^\S[^\n]* \(\d+\):$", body, re.M)
    if not s:
        sys.exit("no shortlog in the cover letter")
    return head, m, subject, body[:s.start()].rstrip("\n"), body[s.start():]


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    new = open(argv[1]).read()
    head, m, _, _, rest = split(new)
    if os.path.exists(argv[2]):
        _, _, subject, blurb, _ = split(open(argv[2]).read())
    else:
        print(f"warning: no {argv[2]}: write its subject and text", file=sys.stderr)
        subject, blurb = SUBJECT, BLURB
    if SUBJECT in subject or BLURB in blurb:
        print("warning: the cover letter still has placeholders", file=sys.stderr)
    prefix = head[:m.start(1)]
    if os.path.exists(argv[2]):
        # The sender and date of the letter, not of this export.
        old_head = open(argv[2]).read().partition("\n\n")[0]
        for field in ("From", "Date"):
            pat = re.compile(rf"^{field}: .*(?:\n .*)*", re.M)
            keep = pat.search(old_head)
            if keep:
                prefix = pat.sub(lambda _: keep.group(0), prefix, count=1)
    sys.stdout.write(f"{prefix}{subject}{head[m.end(1):]}\n\n{blurb}\n\n{rest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
