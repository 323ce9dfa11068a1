"""Visual critique: a multimodal model judges what no deterministic check can decide.

Style, arrangement, "the arrow points from A to B": such promises are `constraint` commitments,
which the checker leaves `unverified`.  When critique is on (and the backend can see images),
the rendered draft and those constraints go to the model (`Backend.critique`), which answers per
constraint with evidence.  `apply_critique` folds the verdicts into the check report:

* a constraint gets the model's status and its evidence (as `ocr_text`-free `texts`);
* a `violated` verdict adds a `critique_violated` finding (severity `error` by default), so it
  steers repair like any other error;
* the model never overrides the checker: texts, numbers and entities keep the status geometry
  and OCR gave them, and only constraints still `unverified` are judged.
"""

from __future__ import annotations

from typing import Literal

from cocogen.planning.base import CritiqueResult
from cocogen.types import CheckReport, Commitment, Evidence, Finding

CRITIQUE_VIOLATED = "critique_violated"
CRITIQUE_UNSURE = "critique_unsure"


def constraints_to_judge(report: CheckReport) -> list[str]:
    return [c.value for c in report.commitments.constraints if c.status == "unverified"]


def apply_critique(
    report: CheckReport,
    result: CritiqueResult,
    severity: Literal["error", "warning"] = "error",
) -> CheckReport:
    """The report with the model's verdicts folded in (rules in the module docstring)."""
    by_constraint = {v.constraint: v for v in result.verdicts}
    constraints: list[Commitment] = []
    findings: list[Finding] = []
    for commitment in report.commitments.constraints:
        verdict = by_constraint.get(commitment.value)
        if commitment.status != "unverified" or verdict is None:
            constraints.append(commitment)
            continue
        evidence = Evidence(texts=[verdict.evidence] if verdict.evidence else [])
        if verdict.verdict == "unsure":
            constraints.append(commitment.model_copy(update={"evidence": evidence}))
            findings.append(
                Finding(
                    code=CRITIQUE_UNSURE,
                    severity="info",
                    message=f"the critic could not judge {commitment.value!r}: {verdict.evidence}",
                )
            )
            continue
        constraints.append(
            commitment.model_copy(update={"status": verdict.verdict, "evidence": evidence})
        )
        if verdict.verdict == "violated":
            findings.append(
                Finding(
                    code=CRITIQUE_VIOLATED,
                    severity=severity,
                    message=f"the critic judged {commitment.value!r} not kept: {verdict.evidence}",
                    llm_message=f"make this true: {commitment.value} (now: {verdict.evidence})",
                )
            )
    commitments = report.commitments.model_copy(update={"constraints": constraints})
    every = commitments.all()
    satisfied = sum(1 for c in every if c.status == "satisfied")
    scores = dict(report.scores)
    scores["commitments_satisfied"] = satisfied / len(every) if every else 1.0
    judged = [
        c.status for c in constraints if c.value in by_constraint and c.status != "unverified"
    ]
    if judged:
        kept = sum(1 for status in judged if status == "satisfied")
        scores["critique_satisfied"] = round(kept / len(judged), 4)
    all_findings = [*report.findings, *findings]
    order = {"error": 0, "warning": 1, "info": 2}
    all_findings.sort(key=lambda f: order.get(f.severity, 3))
    return CheckReport(
        findings=all_findings,
        commitments=commitments,
        scores=scores,
        passed=not any(f.severity == "error" for f in all_findings),
    )
