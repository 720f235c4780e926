"""Filters shared by every page, kept in the session and in the URL.

The four study-wide filters (diseases, chosen sparsity, sparsity range, methods, seed range)
are sidebar widgets drawn by app.py on every run, so they survive page switches. Their
values are mirrored into `st.query_params`; a copied link carries them, and on the first run
of a session (or when another study is opened) they are read back, checked against the
study (unknown classes dropped, sparsities snapped to the grid) and put into the widgets.

Page-only controls (which image, absolute or relative AP, …) use `url_control()`, which does the
same for one widget and also keeps its value while another page is shown: Streamlit forgets
the state of widgets that a run does not draw.

The codec (`decode`/`encode`) is pure and tested without Streamlit.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dashboard.common.url_params import set_params  # noqa: F401  (the pages' one way to write the URL)

# URL parameter names: short, because they end up in links people paste.
P_STUDY, P_CLASSES, P_K, P_KRANGE, P_METHODS, P_SEEDS = "study", "cls", "k", "kr", "m", "seeds"


@dataclass(frozen=True)
class Filters:
    classes: tuple[str, ...]
    sparsity: int                    # the chosen sparsity (percent)
    sparsity_range: tuple[int, int]  # curves are drawn over this range (percent)
    methods: tuple[str, ...]
    seed_range: tuple[int, int]      # inclusive, in seed values

    def seeds(self, all_seeds: Sequence[int]) -> list[int]:
        lo, hi = self.seed_range
        return [s for s in all_seeds if lo <= s <= hi]

    def sparsities(self, grid: Sequence[int]) -> list[int]:
        lo, hi = self.sparsity_range
        return [k for k in grid if lo <= k <= hi]


def _snap(value: int, grid: Sequence[int]) -> int:
    return min(grid, key=lambda g: (abs(g - value), g))


def _int(text: Any) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def _pair(text: Any) -> tuple[int, int] | None:
    parts = str(text or "").split("-")
    if len(parts) != 2:
        return None
    lo, hi = _int(parts[0]), _int(parts[1])
    return None if lo is None or hi is None else (min(lo, hi), max(lo, hi))


def _list(params: Mapping[str, Any], name: str) -> list[str]:
    """Query params hold a str or (repeated keys) a list of str."""
    v = params.get(name)
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def defaults(classes: Sequence[str], sparsities: Sequence[int], methods: Sequence[str],
             seeds: Sequence[int], default_k: int) -> Filters:
    nonzero = [k for k in sparsities if k > 0] or list(sparsities)
    return Filters(classes=tuple(classes), sparsity=_snap(default_k, nonzero),
                   sparsity_range=(min(sparsities), max(sparsities)), methods=tuple(methods),
                   seed_range=(min(seeds), max(seeds)))


def decode(params: Mapping[str, Any], classes: Sequence[str], sparsities: Sequence[int],
           methods: Sequence[str], seeds: Sequence[int], default_k: int) -> Filters:
    """Filters from URL parameters, each value checked against the study; anything missing
    or unusable falls back to the default (never an error: links outlive studies)."""
    return decode_checked(params, classes, sparsities, methods, seeds, default_k)[0]


@dataclass(frozen=True)
class Miss:
    """A value a link asked for that is not there, and what is shown instead."""
    what: str    # "disease", "method", "sparsity", …
    asked: str   # as written in the link
    shown: str   # what the page shows instead


def decode_checked(params: Mapping[str, Any], classes: Sequence[str],
                   sparsities: Sequence[int], methods: Sequence[str], seeds: Sequence[int],
                   default_k: int) -> tuple[Filters, list[Miss]]:
    """`decode`, plus every value of the link that this study does not have (a link to
    another study's disease, a sparsity off the grid, …): the page says so, then falls back."""
    d = defaults(classes, sparsities, methods, seeds, default_k)
    cls = tuple(c for c in _list(params, P_CLASSES) if c in classes)
    k = _int(params.get(P_K))
    kr = _pair(params.get(P_KRANGE))
    ms = tuple(m for m in _list(params, P_METHODS) if m in methods)
    sr = _pair(params.get(P_SEEDS))
    nonzero = [g for g in sparsities if g > 0] or list(sparsities)
    if kr is not None:
        kr = (_snap(kr[0], sparsities), _snap(kr[1], sparsities))
    if sr is not None:
        sr = (max(sr[0], min(seeds)), min(sr[1], max(seeds)))
        if not any(sr[0] <= s <= sr[1] for s in seeds):
            sr = None
    f = Filters(classes=cls or d.classes,
                sparsity=_snap(k, nonzero) if k is not None else d.sparsity,
                sparsity_range=kr or d.sparsity_range, methods=ms or d.methods,
                seed_range=sr or d.seed_range)

    misses = [Miss("disease", c, ", ".join(cls) if cls else "all diseases")
              for c in _list(params, P_CLASSES) if c not in classes]
    misses += [Miss("method", m, ", ".join(ms) if ms else "all methods")
               for m in _list(params, P_METHODS) if m not in methods]
    raw_k = params.get(P_K)
    if raw_k is not None and (k is None or k != f.sparsity):
        misses.append(Miss("sparsity (%)", str(raw_k), f"{f.sparsity}%"))
    raw_kr = params.get(P_KRANGE)
    if raw_kr is not None and (_pair(raw_kr) is None or _pair(raw_kr) != f.sparsity_range):
        misses.append(Miss("sparsity range (%)", str(raw_kr),
                           "{}–{}%".format(*f.sparsity_range)))
    raw_sr = params.get(P_SEEDS)
    # A range reaching past the study's seeds is clipped to them: said, like every other
    # value the page does not show as asked.
    if raw_sr is not None and (sr is None or _pair(raw_sr) != f.seed_range):
        misses.append(Miss("seed range", str(raw_sr), "seeds {}–{}".format(*f.seed_range)))
    return f, misses


def encode(f: Filters, all_classes: Sequence[str] = ()) -> dict[str, str | list[str]]:
    """URL parameters for the filters; 'all classes' is left out to keep links short."""
    out: dict[str, str | list[str]] = {
        P_K: str(f.sparsity),
        P_KRANGE: f"{f.sparsity_range[0]}-{f.sparsity_range[1]}",
        P_METHODS: list(f.methods),
        P_SEEDS: f"{f.seed_range[0]}-{f.seed_range[1]}",
    }
    if set(f.classes) != set(all_classes):
        out[P_CLASSES] = list(f.classes)
    return out


# --------------------------------------------------------------------------- Streamlit side
def link_params() -> dict[str, list[str]]:
    """The URL parameters this session started with: the link that was pasted or followed.
    Only those are reported as "asked for and not found"; values the session itself wrote
    into the URL later (another page's image, another study's classes) are not a link."""
    import streamlit as st

    ss = st.session_state
    if "_link_params" not in ss:
        qp = st.query_params
        ss["_link_params"] = {name: qp.get_all(name) for name in qp}
    return ss["_link_params"]


def show_misses(misses: Sequence[Miss], container=None) -> None:
    """One warning naming, as literal text, each thing the link asked for and that is not
    here, and what is shown instead (links must never quietly open something else)."""
    if not misses:
        return
    import streamlit as st

    from dashboard.common.safe import md_code, md_escape

    lines = [f"- {md_escape(m.what)} {md_code(m.asked)} was not found; showing "
             f"{md_escape(m.shown)} instead" for m in misses]
    (container or st).warning("This link asks for something that is not here:\n"
                              + "\n".join(lines), icon=":material/link_off:")


_KEYS = {"classes": "f_classes", "sparsity": "f_k", "sparsity_range": "f_kr",
         "methods": "f_methods", "seed_range": "f_seeds"}
ALL_FILTERS = tuple(_KEYS)


def sidebar_filters(entry, container=None, shown: tuple[str, ...] = ALL_FILTERS) -> Filters:
    """Draw the study-wide filters in the sidebar (or `container`) and keep them in the URL.
    `shown`: the filters this page uses (names of ALL_FILTERS); the others are not drawn and
    keep their values, in the URL too, for the pages that use them."""
    import streamlit as st

    ss = st.session_state
    classes, grid = list(entry.classes), list(entry.sparsities)
    methods, seeds = list(entry.methods), sorted(entry.seeds)
    if ss.get("_f_study") != entry.key:
        f, misses = decode_checked(
            st.query_params.to_dict() | {P_CLASSES: st.query_params.get_all(P_CLASSES),
                                         P_METHODS: st.query_params.get_all(P_METHODS)},
            classes, grid, methods, seeds, entry.pie_sparsity)
        if not ss.get("_f_link_done"):
            # the first study opened in this session is the link's: say what it lacks
            # (later switches carry the previous study's filters, which is no link's fault)
            ss["_f_link_done"] = True
            show_misses(misses)
        for name, key in _KEYS.items():
            ss[key] = getattr(f, name)
        # An empty disease box means "all": twenty chips in the sidebar would bury the rest.
        ss[_KEYS["classes"]] = [] if set(f.classes) == set(classes) else list(f.classes)
        ss[_KEYS["methods"]] = list(f.methods)
        ss["_f_study"] = entry.key

    for key in _KEYS.values():
        # Streamlit drops a widget's state on a run that does not draw it (e.g. on some page
        # changes); a plain copy under another name brings the value back.
        if key not in ss and "_keep_" + key in ss:
            ss[key] = ss["_keep_" + key]
    _sanitize(ss, classes, grid, methods, seeds)
    sb = st.sidebar if container is None else container
    if container is None:
        sb.subheader("Filters")
    if "classes" in shown:
        sb.multiselect("Diseases", classes, key=_KEYS["classes"],
                       help="Classes shown in the curves and tables; empty = all.")
    nonzero = [k for k in grid if k > 0] or grid
    if "sparsity" in shown:
        sb.select_slider("Chosen sparsity (%)", nonzero, key=_KEYS["sparsity"],
                         help="Pruned model compared with the dense one in tables, scatter "
                              "plots and the PIE viewer.")
    # Range sliders are numeric (st.slider), not select_sliders over the grid: any range
    # works as a filter (lo ≤ k ≤ hi), and AppTest mishandles range select_sliders.
    if len(grid) > 1 and "sparsity_range" in shown:
        sb.slider("Sparsity range (%)", grid[0], grid[-1], key=_KEYS["sparsity_range"],
                  step=_step(grid), help="x-range of the curves.")
    if "methods" in shown:
        sb.multiselect("Methods", methods, key=_KEYS["methods"],
                       help="Pruning methods; empty = all.")
    if len(seeds) > 1 and "seed_range" in shown:
        sb.slider("Seeds", seeds[0], seeds[-1], key=_KEYS["seed_range"], step=_step(seeds),
                  help="Metrics are summarised over the trained models (seeds) in this range.")
    f = Filters(classes=tuple(ss[_KEYS["classes"]]) or tuple(classes),
                sparsity=int(ss[_KEYS["sparsity"]]),
                sparsity_range=tuple(ss[_KEYS["sparsity_range"]]),
                methods=tuple(ss[_KEYS["methods"]]) or tuple(methods),
                seed_range=tuple(ss[_KEYS["seed_range"]]))
    for key in _KEYS.values():
        ss["_keep_" + key] = ss[key]
    set_params(encode(f, classes), drop=[P_CLASSES])
    return f


def _step(values: Sequence[int]) -> int:
    """Largest step that reaches every value of the grid from its first one."""
    import math

    return math.gcd(*[b - a for a, b in zip(values, values[1:], strict=False)]) or 1


def _sanitize(ss, classes, grid, methods, seeds) -> None:
    """Make every filter value a valid choice of this study before its widget is drawn
    (a select_slider raises on a value outside its options)."""
    def pair(v, options):
        ok = (isinstance(v, (tuple, list)) and len(v) == 2
              and all(isinstance(x, int) and options[0] <= x <= options[-1] for x in v))
        return tuple(sorted(v)) if ok else (options[0], options[-1])

    nonzero = [k for k in grid if k > 0] or grid
    if ss.get(_KEYS["sparsity"]) not in nonzero:
        ss[_KEYS["sparsity"]] = _snap(_int(ss.get(_KEYS["sparsity"])) or nonzero[-1], nonzero)
    ss[_KEYS["sparsity_range"]] = pair(ss.get(_KEYS["sparsity_range"]), grid)
    ss[_KEYS["seed_range"]] = pair(ss.get(_KEYS["seed_range"]), seeds)
    ss[_KEYS["classes"]] = [c for c in ss.get(_KEYS["classes"]) or [] if c in classes]
    ss[_KEYS["methods"]] = [m for m in ss.get(_KEYS["methods"]) or [] if m in methods]


def url_control(widget: Callable, label: str, *, key: str, param: str, default: Any,
                parse: Callable[[str], Any] = str, fmt: Callable[[Any], str] = str,
                valid: Callable[[Any], bool] = lambda v: True, **kwargs) -> Any:
    """A page widget whose value survives page switches and lives in the URL as `param`."""
    import streamlit as st

    ss = st.session_state
    keep = "_keep_" + key
    if key not in ss:
        value = ss.get(keep, None)
        raw = st.query_params.get(param) if value is None else None
        if raw is not None:
            try:
                value = parse(raw)
            except (TypeError, ValueError):
                value = None
        usable = value is not None and valid(value)
        ss[key] = value if usable else default
        if raw is not None and not usable and raw in link_params().get(param, []):
            shown = kwargs.get("format_func", fmt)(default)
            show_misses([Miss(label, raw, str(shown))])
    elif not valid(ss[key]):
        ss[key] = default
    value = widget(label, key=key, **kwargs)
    ss[keep] = value
    if value is not None:
        set_params({param: fmt(value)})
    return value
