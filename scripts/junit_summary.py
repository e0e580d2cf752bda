"""Print the suite's closing line ("tests: N passed, N failed, N skipped") from a JUnit XML.

`make test` runs a coverage check after pytest, so pytest's own summary is no longer the last
line; this repeats it, computed from pytest's JUnit report, as the run's closing line.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
total = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(f"tests: {total - failed - skipped} passed, {failed} failed, {skipped} skipped")
