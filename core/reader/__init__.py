"""The blinded reader study: forms, SQLite (WAL) storage, statistics.

Typical use (the dashboard's reader pages do exactly this)::

    from core.reader import FormSpec, ReaderDB, forms_from_study
    db = ReaderDB.for_study(study)                     # <study>/reader/reader_study.sqlite
    plan = forms_from_study(study, FormSpec("l1_global", 90, n_forms=6))
    db.add_form_set(plan.spec_record(), plan.forms)
    item = db.next_unrated("Dr Lee", form_id)          # a BlindItem: no PIE flag
    db.save_answer("Dr Lee", item.item_id, agree=True, quality=4, difficulty=2)
    db.submit("Dr Lee", form_id)                       # answers are final from here on
    compare_groups(db.all_answers())                   # PIE vs non-PIE, MWU + Kruskal-Wallis
"""
from core.reader.db import ReaderDB
from core.reader.forms import (
    Form,
    FormError,
    FormItem,
    FormPlan,
    FormSpec,
    NoPIEsError,
    findings_per_image,
    forms_from_study,
    label_words,
    make_forms,
    study_candidates,
)
from core.reader.inputs import (
    Answer,
    BlindItem,
    FormLocked,
    InputError,
    Reader,
    clean_reader,
    validate_answer,
)
from core.reader.schema import ReaderDBError, ReaderDBMissing, ReaderDBUnavailable
from core.reader.stats import (
    agreement,
    compare_groups,
    distributions,
    groundtruth,
    has_groundtruth,
    krippendorff_alpha,
)

__all__ = [
    "Answer", "BlindItem", "Form", "FormError", "FormItem", "FormLocked", "FormPlan",
    "FormSpec", "InputError", "NoPIEsError", "Reader", "ReaderDB", "ReaderDBError",
    "ReaderDBMissing", "ReaderDBUnavailable", "agreement",
    "clean_reader", "compare_groups", "distributions", "findings_per_image", "forms_from_study",
    "groundtruth", "has_groundtruth", "krippendorff_alpha", "label_words", "make_forms",
    "study_candidates", "validate_answer",
]
