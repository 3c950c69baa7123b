"""`junit.xml` for CI systems: one testcase per test, SLO verdicts as properties and in
system-out, so a CI page that only reads JUnit still shows what was measured and why it failed.

Our own writer rather than pytest's `--junitxml`: the verdicts are known only after the
`gameday` fixture's teardown, and the file must land in the run folder whose name is decided
lazily, long after pytest set up its own XML writer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gameday.reports.model import RunRecord, TestRecord
from gameday.slo.base import measured_text

_ELEMENT = {"fail": "failure", "inconclusive": "failure", "error": "error",
            "skipped": "skipped"}


def render_junit(run: RunRecord) -> str:
    counts = run.counts()
    suite = ET.Element("testsuite", {
        "name": "gameday", "tests": str(len(run.tests)),
        "failures": str(counts["fail"] + counts["inconclusive"]),
        "errors": str(counts["error"]), "skipped": str(counts["skipped"]),
        "time": f"{sum(t.duration_s for t in run.tests):.3f}",
        "timestamp": run.started.isoformat(), "hostname": run.run_id})
    props = ET.SubElement(suite, "properties")
    for name, value in sorted(run.environment.items()):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for test in run.tests:
        suite.append(_testcase(test))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(test: TestRecord) -> ET.Element:
    path, _, name = test.nodeid.rpartition("::")
    case = ET.Element("testcase", {"classname": path.replace("/", ".").removesuffix(".py"),
                                   "name": name or test.nodeid,
                                   "time": f"{test.duration_s:.3f}"})
    ev = test.evidence or {}
    props = ET.SubElement(case, "properties")
    ET.SubElement(props, "property", {"name": "gameday.verdict", "value": test.verdict})
    lines = []
    for v in ev.get("verdicts", []):
        key = f"slo.{v['slo_name']}.{v['phase']}"
        ET.SubElement(props, "property", {
            "name": key, "value": f"{v['status']}: {measured_text(v['kind'], v['measured'])} "
                                  f"(target {v['target']})"})
        lines.append(f"[{v['status'].upper()}] {v['message']}")
    for name, value in sorted((ev.get("figures") or {}).items()):
        ET.SubElement(props, "property", {"name": f"figure.{name}", "value": str(value)})
    element = _ELEMENT.get(test.verdict)
    if element:
        message = test.error_text.strip().splitlines()[-1][:300] if test.error_text else \
            f"scenario verdict: {test.verdict}"
        ET.SubElement(case, element, {"message": message}).text = test.error_text or message
    if lines:
        ET.SubElement(case, "system-out").text = "\n".join(lines)
    return case
