"""The paper's reference values for the paper check (core.analysis.paper_check): one table.

Holste et al., "How does pruning impact long-tailed multi-label medical image classifiers?"
(MICCAI 2023). F1–F4 are the correlations the paper reports and its released analysis code
computes (PruneCXR `src/main_analysis.py`); F5–F6 the PIE over-representation figures (PruneCXR
`src/pie_analysis.py`); F7 the paper's reader study. Each row names its source. `None` = the
paper gives no such number (e.g. no MIMIC-CXR-LT PIE figures are transcribed here): the page
and the CLI print "—" and the verdict still uses `sign`, the direction the paper found.

Values marked `approx=True` are read off a figure (≈), or derived from such readings; how is
said in `derivation`. docs/paper-check.md lists the table in prose.
"""
from __future__ import annotations

from dataclasses import dataclass

PAPER = "Holste et al., MICCAI 2023"
MAIN_CODE = "PruneCXR src/main_analysis.py"
PIE_CODE = "PruneCXR src/pie_analysis.py"


@dataclass(frozen=True)
class PaperValue:
    """One of the paper's values for a finding's statistic, and where it comes from.

    Attributes:
        finding (str): F1 … F7.
        statistic (str): the statistic (same name on both sides).
        short (str): its symbol in a sentence ("r", "ρ", "Δ mean", …).
        sign (int): +1 / −1, the direction the paper found (the verdict's reference).
        nih (float | None): NIH-CXR-LT value; None = not a number in the paper.
        mimic (float | None): MIMIC-CXR-LT value; None = not given / not transcribed.
        source (str): where in the paper.
        approx (bool): read off a figure, not printed.
        derivation (str): how the value was derived, when it was.
    """
    finding: str            # F1 … F7
    statistic: str          # the statistic this study's value is (same name on both sides)
    short: str              # its symbol in a sentence ("r", "ρ", "Δ mean", …)
    sign: int               # +1 / −1: the direction the paper found (the verdict's reference)
    nih: float | None       # NIH-CXR-LT value, None = not a number in the paper
    mimic: float | None     # MIMIC-CXR-LT value, None = not given / not transcribed
    source: str
    approx: bool = False
    derivation: str = ""


CLAIMS = {
    "F1": "rarer classes are forgotten earlier: first 20%-drop sparsity rises with log "
          "train frequency",
    "F2": "rarer classes lose more: AP change at 95% sparsity rises with log train frequency",
    "F3": "classes of unlike frequency are forgotten unlike: FCD rises with |Δ log frequency|",
    "F4": "classes that co-occur are forgotten alike: FCD falls with IoU^¼",
    "F5": "PIEs carry more findings per image",
    "F6": "rare classes are over-represented among PIEs",
    "F7": "PIEs are harder to read: lower image quality, more label disagreement",
}

# (primary, secondary) statistic of each finding; the verdict is the primary's.
VALUES: dict[str, tuple[PaperValue, PaperValue]] = {
    "F1": (PaperValue("F1", "Pearson r", "r", +1, 0.64, 0.82, f"{PAPER}; {MAIN_CODE}"),
           PaperValue("F1", "Spearman ρ", "ρ", +1, 0.61, 0.93, f"{PAPER}; {MAIN_CODE}")),
    "F2": (PaperValue("F2", "Pearson r", "r", +1, 0.80, 0.76, f"{PAPER}; {MAIN_CODE}"),
           PaperValue("F2", "Spearman ρ", "ρ", +1, 0.75, 0.75, f"{PAPER}; {MAIN_CODE}")),
    "F3": (PaperValue("F3", "Pearson r", "r", +1, 0.71, 0.59, f"{PAPER}; {MAIN_CODE}"),
           PaperValue("F3", "Spearman ρ", "ρ", +1, 0.64, 0.60, f"{PAPER}; {MAIN_CODE}")),
    "F4": (PaperValue("F4", "Pearson r", "r", -1, -0.43, -0.28, f"{PAPER}; {MAIN_CODE}"),
           PaperValue("F4", "Spearman ρ", "ρ", -1, -0.47, -0.30, f"{PAPER}; {MAIN_CODE}")),
    "F5": (PaperValue("F5", "mean findings per image, PIEs − non-PIEs", "Δ mean findings", +1,
                      None, None,
                      f"{PAPER}, PIE:non-PIE ratio by findings per image; {PIE_CODE}",
                      derivation="the paper gives the ratio per findings count (≈ 0.75, "
                                 "0.83, 0.97, 1.8, 3.2 for 0, 1, 2, 3, 4+), not a mean "
                                 "difference: rising ratios mean PIEs carry more findings"),
           PaperValue("F5", "slope of the PIE:non-PIE ratio per finding", "slope", +1, 0.587, None,
                      f"{PAPER}, PIE:non-PIE ratio by findings per image; {PIE_CODE}",
                      approx=True,
                      derivation="least-squares slope of the ratios ≈ 0.75, 0.83, 0.97, "
                                 "1.8, 3.2 (read off the figure) on 0, 1, 2, 3, 4")),
    "F6": (PaperValue("F6", "Spearman ρ, PIE:non-PIE ratio vs log train frequency", "ρ", -1,
                      None, None, f"{PAPER}, PIE:non-PIE ratio by class; {PIE_CODE}",
                      derivation="the paper shows the ratio per class (rare classes 3–15×, "
                                 "common ones below 1), not a coefficient: the sign is "
                                 "negative"),
           PaperValue("F6", "Pearson r, PIE:non-PIE ratio vs log train frequency", "r", -1,
                      None, None, f"{PAPER}, PIE:non-PIE ratio by class; {PIE_CODE}")),
    "F7": (PaperValue("F7", "image quality, PIEs − non-PIEs", "Δ quality", -1, -0.15, None,
                      f"{PAPER}, reader study (6 forms × 40 images)", approx=True,
                      derivation="reader means ≈ 3.70 (PIEs) − 3.85 (non-PIEs) on a 1–5 "
                                 "scale"),
           PaperValue("F7", "label disagreement, PIEs − non-PIEs", "Δ disagreement", +1,
                      0.025, None,
                      f"{PAPER}, reader study (6 forms × 40 images)", approx=True,
                      derivation="share of readers not fully agreeing with the label ≈ "
                                 "0.45 (PIEs) − 0.425 (non-PIEs)")),
}

FINDINGS = tuple(VALUES)


def fmt_value(v: float | None) -> str:
    """A paper value as printed: true minus sign, '—' when the paper gives none.

    Args:
        v (float | None): the value.

    Returns:
        str: two decimals, or '—'.

    Example:
        >>> fmt_value(-0.641), fmt_value(None)
        ('−0.64', '—')
    """
    if v is None:
        return "—"
    return f"{v:.2f}" if v >= 0 else f"−{-v:.2f}"
