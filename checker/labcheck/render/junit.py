"""JUnit XML: a test suite per step, a test case per check, for CI dashboards."""

from __future__ import annotations

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from ..checks.outcome import Status, StepResult


def render_junit(steps: list[StepResult]) -> str:
    xml = JUnitXml(name="labcheck")
    for step in steps:
        suite = TestSuite(f"lab{step.lab_id}.{step.step_number:02d}-{step.step_id}")
        for check in step.checks:
            case = TestCase(check.check_id, classname=f"lab{step.lab_id}.{step.step_id}", time=check.duration)
            detail = "\n".join(
                f"{label}: {value}" for label, value in
                (("expected", check.expected), ("observed", check.observed), ("likely cause", check.cause)) if value
            )
            if check.status == Status.FAIL:
                case.result = [Failure(check.summary)]
                case.result[0].text = detail
            elif check.status == Status.ERROR:
                case.result = [Error(check.summary)]
            elif check.status == Status.SKIP:
                case.result = [Skipped(check.summary)]
            suite.add_testcase(case)
        xml.add_testsuite(suite)
    return xml.tostring().decode("utf-8") if isinstance(xml.tostring(), bytes) else xml.tostring()
