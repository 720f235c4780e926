"""Reading forms: which images a reader sees, in which order, and nothing else.

A form set is made from one `FormSpec` (method, sparsity, PIE definition, how many PIEs and
non-PIEs, how many forms and readers, seed). Each form is a shuffled list of items; an item
carries an opaque random id, and the PIE flag stays in the researcher's tables (the reading
page receives `db.BlindItem`s, which have no PIE field).

Reproducibility: the chosen images and their order depend only on (candidates, spec), the
seed included, so the same spec on the same study gives the same forms. Item ids are random
tokens (`secrets`), not derived from the seed: two form sets made with the same seed must not
share ids, and an id must not let anyone recompute which image or group it belongs to.

`image_overlap`:
  - "disjoint" (default): every form has its own images, as in a study with one reader per
    form; needs n_forms × n_pie PIEs.
  - "shared": every form shows the same images in its own order, so that several readers
    read the same images and inter-reader agreement can be measured.
Readers per form is the planned number of readers of each form (shown on the setup page and
used for progress); any named reader may open any form.

Matching on number of findings (optional): non-PIEs are drawn bin by bin (0, 1, 2, 3, 4+
findings, "No Finding" excluded, as in the paper's PIE statistics) so their distribution
follows the chosen PIEs'; a bin with too few non-PIEs borrows from the nearest bin and the
number of such borrowings is reported.
"""
from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DEFINITIONS = ("paper", "population")  # names of core/analysis PIE definitions
OVERLAPS = ("disjoint", "shared")
FINDING_BINS = (0, 1, 2, 3, 4)  # 4 stands for "4+"


class FormError(ValueError):
    """Forms cannot be made as asked (message says why and what to change)."""


class NoPIEsError(FormError):
    """The study has no PIEs for the chosen method / sparsity / definition."""


@dataclass(frozen=True)
class FormSpec:
    """What to draw for one set of reader forms (validated by `validate`).

    Attributes:
        method (str): the pruning method whose PIEs are read.
        sparsity (int): integer percent, 1–99.
        definition (str): ``"paper"`` (bottom percentile of correlation) or ``"population"``.
        percentile (float): used by the paper definition only, in (0, 100).
        n_pie (int): PIEs per form (≥ 0).
        n_non_pie (int): non-PIEs per form (≥ 0; at least one image in all).
        n_forms (int): forms (≥ 1).
        readers_per_form (int): readers each form is meant for (≥ 1).
        seed (int): seed of the draw and the shuffles.
        match_findings (bool): draw non-PIEs with the PIEs' numbers of findings.
        image_overlap (str): ``"disjoint"`` (each form its own images) or ``"shared"``.
    """
    method: str
    sparsity: int                # integer percent, > 0
    definition: str = "paper"    # paper (bottom percentile of correlation) | population
    percentile: float = 5.0      # used by the paper definition only
    n_pie: int = 20
    n_non_pie: int = 20
    n_forms: int = 1
    readers_per_form: int = 1
    seed: int = 0
    match_findings: bool = False
    image_overlap: str = "disjoint"

    def validate(self) -> None:
        if self.definition not in DEFINITIONS:
            raise FormError(f"PIE definition {self.definition!r}; allowed: "
                            f"{', '.join(DEFINITIONS)}")
        if self.image_overlap not in OVERLAPS:
            raise FormError(f"image overlap {self.image_overlap!r}; allowed: {', '.join(OVERLAPS)}")
        if not 0 < int(self.sparsity) < 100:
            raise FormError(f"sparsity {self.sparsity}: PIEs compare dense with a sparsity in "
                            "1–99 %")
        if self.definition == "paper" and not 0 < float(self.percentile) < 100:
            raise FormError(f"percentile {self.percentile} outside (0, 100)")
        for name in ("n_pie", "n_non_pie"):
            if int(getattr(self, name)) < 0:
                raise FormError(f"{name} must be ≥ 0")
        if self.n_pie + self.n_non_pie < 1:
            raise FormError("a form needs at least one image")
        for name in ("n_forms", "readers_per_form"):
            if int(getattr(self, name)) < 1:
                raise FormError(f"{name} must be ≥ 1")
        if self.match_findings and self.n_pie == 0:
            raise FormError("matching on number of findings needs at least one PIE per form")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FormItem:
    """One image on a form.

    Attributes:
        item_id (str): random 16-hex-digit id.
        position (int): 1-based place on the form.
        image_id (str): the image's id.
        row (int): its eval row.
        is_pie (bool): PIE under the form's definition.
        n_findings (int | None): findings of the image, when known.
    """
    item_id: str
    position: int            # 1-based
    image_id: str
    row: int
    is_pie: bool
    n_findings: int | None = None


@dataclass
class Form:
    """A named, shuffled form.

    Attributes:
        name (str): "Form <n>".
        items (list[FormItem]): the images in reading order.
    """
    name: str
    items: list[FormItem] = field(default_factory=list)


@dataclass
class FormPlan:
    """Forms plus the facts the researcher should see before storing them."""
    spec: FormSpec
    forms: list[Form]
    n_pie_available: int
    n_non_pie_available: int
    unmatched: int = 0       # non-PIEs drawn from a neighbouring findings bin

    def spec_record(self) -> dict:
        """The spec as stored in the database, with what was available when drawn."""
        return {**self.spec.to_dict(), "n_pie_available": self.n_pie_available,
                "n_non_pie_available": self.n_non_pie_available, "unmatched": self.unmatched}


# --------------------------------------------------------------------------- pure helpers
def findings_per_image(labels: pd.DataFrame, classes: list[str]) -> np.ndarray:
    """Positive labels per image: core.data.stats.findings_per_image, the one definition.

    "No Finding" (any spelling) is excluded and NaN counts as 0.

    Args:
        labels (pd.DataFrame): labels with the class columns.
        classes (list[str]): the class names.

    Returns:
        np.ndarray: int ``[N]``.
    """
    from core.data.stats import findings_per_image as count

    return count(labels, list(classes))


def label_words(row, classes: list[str]) -> str:
    """A label set in plain words: "Effusion, Nodule" or "No Finding".

    core.data.stats.image_labels_in_words, the one rule for labels in words.

    Args:
        row (Mapping): one image's labels (class → 1/0/NaN).
        classes (list[str]): the class names.

    Returns:
        str: the positive classes joined by ", ", or "No Finding".
    """
    from core.data.stats import image_labels_in_words

    return image_labels_in_words(row, classes)


def _bin(n) -> int:
    return int(min(int(n), FINDING_BINS[-1]))


def make_forms(candidates: pd.DataFrame, spec: FormSpec, first_number: int = 1) -> FormPlan:
    """Draw and shuffle the forms of one spec.

    Forms are named "Form <first_number>", "Form <first_number + 1>", …, so a new set can
    continue the numbering of stored ones.

    Args:
        candidates (pd.DataFrame): one row per eligible image with columns ``image_id``,
            ``row``, ``is_pie`` (bool) and, when matching on findings, ``n_findings``.
        spec (FormSpec): what to draw.
        first_number (int): the number of the first form.

    Returns:
        FormPlan: the spec, the forms, the PIE and non-PIE pool sizes and the number of
        unmatched draws.

    Raises:
        FormError: for an invalid spec or too few PIEs / non-PIEs for the forms.
        NoPIEsError: when PIEs are asked for and there is none.
    """
    spec.validate()
    cand = candidates.reset_index(drop=True)
    is_pie = cand["is_pie"].to_numpy(dtype=bool)
    pie_idx, non_idx = np.flatnonzero(is_pie), np.flatnonzero(~is_pie)
    if len(pie_idx) == 0 and spec.n_pie > 0:
        raise NoPIEsError(f"There are no PIEs for {spec.method} at {spec.sparsity}% sparsity "
                          f"({spec.definition} definition): nothing to build a form from.")
    per_form = 1 if spec.image_overlap == "shared" else spec.n_forms
    need_pie, need_non = spec.n_pie * per_form, spec.n_non_pie * per_form
    if need_pie > len(pie_idx):
        raise FormError(f"{need_pie} PIEs needed ({spec.n_forms} form(s) × {spec.n_pie}, "
                        f"{spec.image_overlap} images) but only {len(pie_idx)} available; "
                        "ask for fewer PIEs or forms, or use shared images.")
    if need_non > len(non_idx):
        raise FormError(f"{need_non} non-PIEs needed but only {len(non_idx)} available.")
    rng = np.random.default_rng(spec.seed)
    chosen_pie = rng.permutation(pie_idx)[:need_pie]
    if spec.match_findings:
        chosen_non, unmatched = _matched_draw(cand, chosen_pie, non_idx, spec, per_form, rng)
    else:
        chosen_non, unmatched = rng.permutation(non_idx)[:need_non], 0
    # The image sets of each form (one set reused by every form when shared).
    sets = [np.concatenate([chosen_pie[i * spec.n_pie:(i + 1) * spec.n_pie],
                            chosen_non[i * spec.n_non_pie:(i + 1) * spec.n_non_pie]])
            for i in range(per_form)]
    has_findings = "n_findings" in cand.columns
    forms = []
    for f in range(spec.n_forms):
        order = rng.permutation(sets[0 if spec.image_overlap == "shared" else f])
        items = [FormItem(item_id=secrets.token_hex(8), position=pos, image_id=str(
                     cand.at[i, "image_id"]), row=int(cand.at[i, "row"]),
                          is_pie=bool(is_pie[i]),
                          n_findings=int(cand.at[i, "n_findings"]) if has_findings else None)
                 for pos, i in enumerate(order, start=1)]
        forms.append(Form(f"Form {first_number + f}", items))
    return FormPlan(spec, forms, len(pie_idx), len(non_idx), unmatched)


def _matched_draw(cand, chosen_pie, non_idx, spec, per_form, rng):
    """Non-PIEs whose findings bins follow the chosen PIEs', form by form."""
    bins = np.array([_bin(n) for n in cand["n_findings"].to_numpy()])
    pools = {b: list(rng.permutation(non_idx[bins[non_idx] == b])) for b in FINDING_BINS}
    out, unmatched = [], 0
    for i in range(per_form):
        pie_bins = bins[chosen_pie[i * spec.n_pie:(i + 1) * spec.n_pie]]
        # Targets: the PIEs' bins, cycled (in a random order) when n_non_pie ≠ n_pie.
        targets = np.resize(rng.permutation(pie_bins), spec.n_non_pie)
        for b in targets:
            for alt in sorted(FINDING_BINS, key=lambda x: (abs(x - b), x)):
                if pools[alt]:
                    out.append(pools[alt].pop())
                    unmatched += alt != b
                    break
    return np.array(out, dtype=int), unmatched


# --------------------------------------------------------------------------- from a study
def study_candidates(study_root, method: str, sparsity: int, definition: str = "paper",
                     percentile: float = 5.0) -> pd.DataFrame:
    """Every eval image of a study with its PIE flag under the chosen definition.

    Reads the analysis tables (analysis/pie_corr/<method>.npy,
    analysis/pie_population/<method>.npy) and re-thresholds with core.analysis, so the
    reader study uses exactly the PIEs the dashboard shows.

    Args:
        study_root (str | Path): the study folder.
        method (str): the method.
        sparsity (int): a pruned sparsity of the study's grid.
        definition (str): ``"paper"`` or ``"population"``.
        percentile (float): the paper definition's percentile.

    Returns:
        pd.DataFrame: image_id, row, is_pie, n_findings; one row per eval image.

    Raises:
        FormError: for an unknown definition, a sparsity not in the grid (or 0), or a PIE
            array whose length differs from the labels.
        NoPIEsError: when the study has no PIE analysis for `method`.
    """
    from core.store import StudyPaths, open_npy, read_json

    paths = StudyPaths(study_root)
    study = read_json(paths.study_json)
    classes = list(study["classes"])
    labels = pd.read_parquet(paths.labels)
    params_path = paths.analysis(paths.PARAMS)
    folder = "pie_corr" if definition == "paper" else "pie_population"
    array_path = paths.pie_array(folder, method)
    if definition not in DEFINITIONS:
        raise FormError(f"PIE definition {definition!r}; allowed: {', '.join(DEFINITIONS)}")
    if not params_path.is_file() or not array_path.is_file():
        raise NoPIEsError(f"This study has no PIE analysis for method {method!r} "
                          f"({Path(array_path).relative_to(paths.root)} missing); run "
                          "`python -m core analyze STUDY` first.")
    sparsities = [int(x) for x in read_json(params_path)["sparsities"]]
    if int(sparsity) not in sparsities or int(sparsity) == 0:
        raise FormError(f"sparsity {sparsity}% is not one of the study's pruned sparsities "
                        f"{[x for x in sparsities if x]}")
    values = np.asarray(open_npy(array_path)[sparsities.index(int(sparsity))])
    if definition == "paper":
        from core.analysis.pies import select_bottom

        mask = np.asarray(select_bottom(values, float(percentile)), dtype=bool)
    else:
        mask = values.astype(bool)
    if len(mask) != len(labels):
        raise FormError(f"{array_path.name}: {len(mask)} images, labels have {len(labels)}")
    rows = labels["row"].to_numpy() if "row" in labels.columns else np.arange(len(labels))
    return pd.DataFrame({"image_id": labels["id"].astype(str).to_numpy(), "row": rows,
                         "is_pie": mask[rows],
                         "n_findings": findings_per_image(labels, classes)})


def forms_from_study(study_root, spec: FormSpec, first_number: int = 1) -> FormPlan:
    """Draw the forms of one spec from a study's analysed PIEs.

    Args:
        study_root (str | Path): the study folder.
        spec (FormSpec): what to draw.
        first_number (int): the number of the first form.

    Returns:
        FormPlan: as `make_forms`.

    Raises:
        FormError: as `study_candidates` and `make_forms`.
        NoPIEsError: when the study has no PIEs for the spec.
    """
    spec.validate()
    cand = study_candidates(study_root, spec.method, spec.sparsity, spec.definition,
                            spec.percentile)
    if not cand["is_pie"].any():
        raise NoPIEsError(f"This study has no PIEs for {spec.method} at {spec.sparsity}% "
                          f"sparsity ({spec.definition} definition).")
    return make_forms(cand, spec, first_number)
