"""Draft a column map for a provider's export (``dapp-eval map EXPORT > map.yaml``).

The export's files and workbook sheets are read; each is matched to a contract table (by its name and
how many of its headers match), each header to a contract column (by name, by the synonyms below, and
by the shape of its values: dates, yes/no words, codes), and each distinct code of a code column to a
contract code.  The draft is a column map (:mod:`dapp_eval.data.mapping`) in which every guess carries a
comment saying why, every distinct code is listed against the contract's codes, and anything that
could not be placed is marked ``TODO``: a draft with a ``TODO`` left in a value is refused by the map's
schema check, naming the line, so nothing unplaced slips through.

Only code-like values are ever written into the draft (short words such as ``Dropped out`` or ``1:1``
in a column with few distinct values); identifiers, dates, numbers and free text never are.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dapp_eval.data.identifiers import scan_column
from dapp_eval.data.schema import TABLES, Column

__all__ = ["draft_map", "SYNONYMS", "CODE_SYNONYMS"]

_SUFFIXES = (".csv", ".xlsx", ".sav", ".dta", ".parquet")

#: other names exports use for contract columns (compared after lower-casing and removing punctuation)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "site_id": ("project", "project code", "project id", "scheme", "team", "team code", "team id", "site", "site code", "service id", "service code", "site ref", "service ref"),
    "site_name": ("project name", "project title", "scheme name", "team name", "service", "service name", "site", "provider", "location", "office"),
    "programme_model": ("model", "delivery model", "delivery", "format"),
    "planned_sessions": ("sessions", "sessions planned", "number of sessions", "no of sessions", "programme length",
                         "course length", "weeks"),
    "annual_cost_gbp": ("annual cost", "cost", "contract value", "yearly cost", "budget"),
    "target_completions": ("target", "completion target", "contract target"),
    "period_start": ("start of period", "contract start", "period from", "from"),
    "period_end": ("end of period", "contract end", "period to", "to"),
    "data_extract_date": ("extract date", "extracted", "date extracted", "report date", "data as at"),
    "incident_data_from": ("police data from", "incident data start"),
    "referral_id": ("case no", "case num", "episode no", "referral ref", "referral number", "referral no", "ref no", "case ref", "case id",
                    "episode id", "referral reference", "case number"),
    "participant_id": ("client ref", "client id", "client number", "person id", "service user id", "su ref",
                       "perpetrator id", "client reference", "nominal id", "person ref"),
    "referral_date": ("ref date", "date of ref", "referral on", "date of referral", "referred", "date referred", "referral received", "received"),
    "referral_source": ("referrer", "referred by", "source", "referral agency", "referring agency"),
    "programme_name": ("programme", "course", "intervention"),
    "gender": ("sex", "gender identity"),
    "age": ("age at referral", "age years"),
    "ethnicity": ("ethnic group", "ethnic origin", "ethnicity group"),
    "employment": ("employment status", "employed", "work status"),
    "prior_da_police_contact": ("prior da", "previous da police", "da history", "previous police contact", "prior police contact", "known to police",
                                "police history", "previous da"),
    "substance_misuse": ("substance use", "drugs alcohol", "drug alcohol", "substance"),
    "relationship_to_victim": ("victim is", "victim relationship", "victim rel", "rel to victim", "relationship", "relationship to victim", "relationship to partner"),
    "abuse_types": ("abuse categories", "abuse category", "categories of abuse", "abuse codes", "abuse", "abuse type", "abuse types", "type of abuse", "types of abuse", "forms of abuse"),
    "n_children": ("children in household", "children in the household", "children", "number of children", "no of children", "no children", "kids"),
    "assessment_date": ("date of assessment", "assessed", "date assessed", "assessment"),
    "assessment_outcome": ("assessment result", "outcome of assessment", "suitability", "suitable"),
    "start_date": ("programme start", "date started", "started", "first session", "start"),
    "exit_date": ("date closed", "closure date", "end date", "date of exit", "closed", "discharge date"),
    "exit_reason": ("closure", "closure outcome", "reason for ending", "close code", "closure code", "close reason", "exit code", "closure reason", "reason for closure", "reason closed", "outcome", "exit outcome",
                    "discharge reason", "reason for leaving"),
    "session_number": ("seq", "sequence", "session seq", "session", "session no", "week", "session num"),
    "session_date": ("appt date", "appointment on", "date of session", "date", "appointment date"),
    "session_type": ("kind", "appt type", "type", "session format", "appointment type", "format"),
    "attended": ("attendance", "attended y n", "present", "did attend"),
    "timepoint": ("stage", "time point", "point", "review"),
    "instrument": ("tool", "risk tool", "measure"),
    "score": ("total", "total score", "dash score", "risk score", "dash total"),
    "informant": ("by", "informant type", "completed by", "source of information", "informed by", "assessor"),
    "partner_id": ("partner ref", "victim id", "victim ref", "partner reference", "survivor id"),
    "relationship": ("relationship", "relationship to client"),
    "support_offered": ("idva offered", "advocacy offered", "offered support", "support offered", "offered", "ps offered"),
    "support_accepted": ("idva accepted", "advocacy accepted", "accepted support", "support accepted", "accepted", "engaged"),
    "wave": ("survey point", "survey timepoint", "survey wave", "timepoint", "survey", "round"),
    "survey_date": ("date of survey", "date completed", "date"),
    "physical_violence": ("physical", "physical abuse", "any physical violence"),
    "sexual_violence": ("sexual", "sexual abuse"),
    "threats": ("threatened", "threats made"),
    "weapon_used": ("weapon", "weapon use"),
    "injury": ("injured", "injuries"),
    "harassment_stalking": ("harassment", "stalking", "harassed"),
    "coercive_control": ("controlling behaviour", "coercive", "control"),
    "child_exposed": ("children exposed", "child witnessed", "children present"),
    "feels_safe": ("safe", "feeling safe", "how safe", "safety rating", "safety"),
    "space_for_action": ("sfa", "space for action score"),
    "incident_id": ("police ref", "police reference", "incident number", "crime number", "occ no", "occurrence no", "occurrence number", "incident no", "incident ref", "occurrence", "occurrence ref", "urn", "record id", "crime ref", "log number"),
    "event_id": ("event", "event ref", "linked incident"),
    "incident_date": ("date reported", "reported on", "occ date", "occurred on", "date of incident", "occurrence date", "date"),
    "incident_type": ("type", "record type", "category", "incident category"),
    "outcome_date": ("date proven", "proven", "proven on", "outcome on", "date of outcome", "disposal date", "conviction date"),
    # data contract version 2 (issue 32)
    "district": ("postcode district", "postcode area", "area", "local authority", "la", "ward", "borough"),
    "disability": ("disabled", "disability status", "has disability"),
    "religion": ("religion or belief", "faith", "belief"),
    "sexual_orientation": ("sexuality", "orientation", "sexual orientation"),
    "aces_score": ("aces", "ace score", "number of aces", "adverse childhood experiences"),
    "aces_flag": ("aces identified", "ace flag", "trauma"),
    "mental_health": ("mental health need", "mh", "mental health issues"),
    "interpreter_needed": ("interpreter", "interpreter required", "needs interpreter"),
    "language": ("first language", "main language", "preferred language"),
    "referral_risk_level": ("risk level", "referrer risk", "risk at referral"),
    "child_id": ("child ref", "child number", "child no"),
    "age_band": ("child age", "age group"),
    "plan_at_referral": ("plan at referral", "cp status at referral", "status at referral"),
    "plan_at_12_months": ("plan at 12 months", "status at 12 months", "12 month status"),
    "support_start": ("support started", "first contact", "start of support"),
    "support_end": ("support ended", "closed", "closure date", "end of support"),
    "n_contacts": ("contacts", "number of contacts", "no of contacts"),
    "n_sessions": ("idva sessions", "support sessions", "number of sessions"),
    "safety_plan": ("safety plan", "safety planning", "safety plan made"),
    "closed_reason": ("closure reason", "reason closed", "outcome"),
    "quarter_start": ("quarter", "quarter beginning", "period"),
    "funder": ("funding source", "funded by"),
    "funding_gbp": ("funding", "amount", "grant"),
    "groups_run": ("groups", "number of groups"),
    "places_offered": ("places", "capacity", "spaces"),
    "places_filled": ("filled", "places used", "occupied"),
    "staff_fte": ("fte", "staff", "staffing"),
    "rating": ("score", "likert", "rating of change"),
    "item": ("question", "measure"),
}

#: provider words for contract codes (compared after lower-casing and removing punctuation)
CODE_SYNONYMS: dict[str, dict[str, str]] = {
    "bool": {"yes": "true", "y": "true", "true": "true", "1": "true", "attended": "true", "present": "true",
             "no": "false", "n": "false", "false": "false", "0": "false", "dna": "false", "did not attend": "false",
             "absent": "false", "not attended": "false", "cancelled": "false", "p": "true", "a": "false"},
    "session_type": {"ind": "one_to_one", "i": "one_to_one", "1 1": "one_to_one", "one to one": "one_to_one", "individual": "one_to_one",
                     "121": "one_to_one", "group session": "group", "groupwork": "group"},
    "programme_model": {"ind": "one_to_one", "1 1": "one_to_one", "one to one": "one_to_one", "individual": "one_to_one",
                        "groupwork": "group", "blended": "mixed", "both": "mixed"},
    "gender": {"m": "male", "man": "male", "f": "female", "woman": "female", "not known": "unknown",
               "not stated": "unknown", "not recorded": "unknown", "prefer not to say": "unknown", "non binary": "other"},
    "ethnicity": {"white british": "white_british", "white english": "white_british", "white other": "white_other",
                  "any other white background": "white_other", "asian or asian british": "asian",
                  "black or black british": "black", "mixed multiple": "mixed", "mixed heritage": "mixed",
                  "not stated": "unknown", "not known": "unknown", "not recorded": "unknown", "other ethnic group": "other",
                  "ns": "unknown"},
    "employment": {"full time": "employed", "part time": "employed", "self employed": "employed",
                   "in work": "employed", "not in work": "unemployed", "out of work": "unemployed",
                   "jobseeker": "unemployed", "not known": "unknown", "not recorded": "unknown", "retired": "other", "student": "other"},
    "referral_source": {"children s social care": "childrens_social_care", "csc": "childrens_social_care",
                        "social care": "childrens_social_care", "social services": "childrens_social_care",
                        "criminal court": "court", "self referral": "self", "gp": "health", "nhs": "health",
                        "family court cafcass": "family_court", "cafcass": "family_court"},
    "relationship_to_victim": {"xp": "ex_partner", "current partner": "partner", "ex partner": "ex_partner", "former partner": "ex_partner",
                               "family member": "family"},
    "relationship": {"xp": "ex_partner", "current partner": "partner", "ex partner": "ex_partner", "former partner": "ex_partner",
                     "family member": "family"},
    "exit_reason": {"completed programme": "completed", "complete": "completed", "disengaged": "dropped_out",
                    "dropped out": "dropped_out", "assessed unsuitable": "unsuitable", "not suitable": "unsuitable",
                    "did not start": "declined_to_start", "declined to start": "declined_to_start",
                    "declined assessment": "declined_assessment", "removed": "excluded",
                    "moved out of area": "moved_away", "moved": "moved_away", "in custody": "custody",
                    "prison": "custody", "sentenced": "custody"},
    "assessment_outcome": {"accepted": "suitable", "not suitable": "unsuitable", "rejected": "unsuitable"},
    "timepoint": {"baseline": "intake", "start": "intake", "pre": "intake", "initial": "intake", "mid": "midpoint",
                  "mid point": "midpoint", "end": "exit", "post": "exit", "closure": "exit",
                  "follow up": "follow_up", "followup": "follow_up"},
    "informant": {"vic": "partner", "worker": "practitioner", "keyworker": "practitioner", "facilitator": "practitioner",
                  "victim": "partner", "survivor": "partner", "client": "self", "self report": "self"},
    "wave": {"wave 1": "T1", "wave 2": "T2", "wave 3": "T3", "wave 4": "T4", "baseline": "T1", "start": "T1",
             "3 months": "T2", "6 months": "T3", "12 months": "T4"},
    "incident_type": {"police call out": "police_callout", "callout": "police_callout", "call out": "police_callout",
                      "police callout": "police_callout", "da crime": "da_crime", "crime": "da_crime",
                      "crime recorded": "da_crime", "marac": "marac_referral", "child protection plan":
                      "child_protection", "cp": "child_protection"},
    "disability": {"y": "yes", "n": "no", "disabled": "yes", "not disabled": "no", "prefer not to say": "prefer_not_to_say",
                   "not known": "not_recorded", "not stated": "not_recorded", "unknown": "not_recorded"},
    "religion": {"none": "no_religion", "no religion": "no_religion", "atheist": "no_religion",
                 "prefer not to say": "prefer_not_to_say", "not known": "not_recorded", "not stated": "not_recorded"},
    "sexual_orientation": {"straight": "heterosexual", "heterosexual straight": "heterosexual", "gay": "gay_or_lesbian",
                           "lesbian": "gay_or_lesbian", "gay man": "gay_or_lesbian", "gay woman": "gay_or_lesbian",
                           "prefer not to say": "prefer_not_to_say", "not known": "not_recorded",
                           "not stated": "not_recorded"},
    "abuse_types": {"economic": "financial", "coercive control": "coercive_control", "controlling": "coercive_control",
                    "harassment": "stalking", "psychological": "emotional"},
}

#: words in a file or sheet name that point to a table
TABLE_WORDS: dict[str, tuple[str, ...]] = {
    "sites": ("site", "sites", "service", "services", "contract", "provider"),
    "referrals": ("referral", "referrals", "case", "cases", "clients", "episodes"),
    "sessions": ("attendance", "session", "sessions", "appointments", "register"),
    "risk_assessments": ("risk", "dash", "assessments", "scores"),
    "partners": ("partner", "partners", "victims", "survivors"),
    "partner_surveys": ("survey", "surveys", "partner survey", "partner surveys", "wellbeing", "feedback"),
    "incidents": ("police", "incident", "incidents", "marac", "crime", "occurrences"),
    # data contract version 2 (issue 32)
    "children": ("child", "children", "kids", "dependants", "family members"),
    "partner_support": ("partner support", "idva", "victim support", "support service", "pss"),
    "capacity": ("capacity", "places", "funding", "staffing", "utilisation", "quarterly"),
    "feedback": ("ratings", "outcome ratings", "stakeholder", "likert", "questionnaire", "feedback form"),
}


def _norm(s) -> str:
    """Lower-case words: punctuation to spaces, camelCase split (``RefDate`` -> ``ref date``)."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", str(s))
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


@dataclass
class _Source:
    file: str
    sheet: str | None
    frame: pd.DataFrame
    table: str | None = None
    why: str = ""
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)  # header -> (contract column, why)
    more: list[_Source] = field(default_factory=list)  # further files with the same header, rows stacked
    shapes: dict = field(default_factory=dict)


def _read_sources(export: Path) -> tuple[Path, list[_Source], list[str]]:
    folder = export if export.is_dir() else export.parent
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES) \
        if export.is_dir() else [export]
    out, skipped = [], []
    for p in paths:
        suf = p.suffix.lower()
        try:
            if suf == ".csv":
                out.append(_Source(p.name, None, pd.read_csv(p, dtype=str, keep_default_na=False,
                                                             encoding="utf-8-sig")))
            elif suf == ".xlsx":
                for sheet, df in pd.read_excel(p, sheet_name=None, dtype=object).items():
                    out.append(_Source(p.name, sheet, df.astype(object).where(df.notna(), "")))
            elif suf == ".sav":
                import pyreadstat

                df, _ = pyreadstat.read_sav(str(p), apply_value_formats=True)
                out.append(_Source(p.name, None, df.astype(object).where(df.notna(), "")))
            elif suf == ".dta":
                df = pd.read_stata(p, convert_categoricals=True)
                out.append(_Source(p.name, None, df.astype(object).where(df.notna(), "")))
            else:
                df = pd.read_parquet(p)
                out.append(_Source(p.name, None, df.astype(object).where(df.notna(), "")))
        except Exception as exc:  # a damaged file is named in the draft, never a crash
            skipped.append(f"{p.name}: cannot be read ({type(exc).__name__})")
    return folder, out, skipped


def _text(values: pd.Series) -> pd.Series:
    def conv(v):
        if isinstance(v, pd.Timestamp) or (hasattr(v, "year") and not isinstance(v, str)):
            return "<date>"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()

    return values.map(conv)


_DATE_SHAPES = {
    "%Y-%m-%d": re.compile(r"^\d{4}-\d{1,2}-\d{1,2}( 00:00:00)?$"),
    "%d/%m/%Y": re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$"),
    "%d-%m-%Y": re.compile(r"^\d{1,2}-\d{1,2}-\d{4}$"),
    "%d.%m.%Y": re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$"),
}


def _shape(values: pd.Series) -> tuple[str, str | None]:
    """(kind, date format) the filled cells look like: date, number, bool, code or text."""
    v = _text(values)
    v = v[v != ""]
    if not len(v):
        return "empty", None
    if (v == "<date>").mean() > 0.9:
        return "date", None
    for fmt, rx in _DATE_SHAPES.items():
        if v.str.match(rx).mean() > 0.9:
            if fmt == "%d/%m/%Y" and (v.str.split("/").str[1].astype(int) > 12).any():
                fmt = "%m/%d/%Y"  # a month above 12: the export writes US dates
            return "date", fmt
    if pd.to_numeric(v, errors="coerce").notna().mean() > 0.95:
        low = set(v.str.lower())
        return ("bool", None) if low <= {"0", "1"} else ("number", None)
    low = set(v.map(_norm))
    if low <= set(CODE_SYNONYMS["bool"]) and len(low) <= 3:
        return "bool", None
    if v.nunique() <= max(30, len(v) // 20):
        return "code", None
    return "text", None


def _table_score(src: _Source) -> dict[str, tuple[float, str]]:
    name = _norm(src.sheet if src.sheet is not None else src.file.rsplit(".", 1)[0])  # a workbook's name says little
    words = set(name.split())
    heads = [_norm(h) for h in src.frame.columns]
    out = {}
    for tname, table in TABLES.items():
        hits = sum(1 for h in heads if any(h == _norm(c.name) or h in map(_norm, SYNONYMS.get(c.name, ()))
                                          for c in table.columns))
        named = [w for w in TABLE_WORDS[tname] if (w in words if " " not in w else w in name)]
        score = hits / max(len(table.columns), 1) + (1.0 if named else 0) + 0.5 * len(named)
        why = []
        if named:
            why.append(f"its name has '{named[-1]}'")
        if hits:
            why.append(f"{hits} of its headers match {tname} columns")
        out[tname] = (score, " and ".join(why))
    return out


def _place_tables(sources: list[_Source]) -> None:
    # a file with the same header as an earlier one continues its table (an export split by year or team)
    firsts: dict[tuple, _Source] = {}
    for src in sources:
        key = tuple(map(str, src.frame.columns))
        if key in firsts and key:
            firsts[key].more.append(src)
            src.table = "(stacked)"
        else:
            firsts[key] = src
    scores = [(s, _table_score(s)) for s in sources if s.table is None]
    taken: dict[str, _Source] = {}
    pairs = sorted(((sc[t][0], -i, t) for i, (_, sc) in enumerate(scores) for t in TABLES), reverse=True)
    for score, neg_i, t in pairs:
        src = scores[-neg_i][0]
        if src.table is not None or t in taken or score < 0.3:
            continue
        src.table, src.why = t, scores[-neg_i][1][t][1]
        taken[t] = src
    for src in sources:  # stacked files of a table no file was placed as go back to being unplaced
        if src.table is None:
            for m in src.more:
                m.table = None
            src.more = []


def _column_score(header: str, col: Column, shape: str) -> tuple[float, str]:
    h = _norm(header)
    if h == _norm(col.name):
        return 3.0, "same name as the contract column"
    syn = [_norm(s) for s in SYNONYMS.get(col.name, ())]
    fits = {"date": "date", "bool": "bool", "number": ("int", "float"), "code": ("enum", "set", "str", "bool"),
            "text": ("str", "set"), "empty": tuple(), }.get(shape, ())
    fit = col.kind in (fits if isinstance(fits, tuple) else (fits,))
    if h in syn:
        return (2.5 if fit or shape == "empty" else 1.2), f"'{header}' is a usual name for {col.name}"
    ratio = difflib.SequenceMatcher(None, h, _norm(col.name)).ratio()
    best = max([ratio] + [difflib.SequenceMatcher(None, h, s).ratio() for s in syn])
    if best >= 0.75 and fit:
        return 1.5 * best, f"'{header}' is close to {col.name}" + (f" and its values look like {shape}s"
                                                                     if shape != "empty" else "")
    return 0.0, ""


def _place_columns(src: _Source) -> None:
    table = TABLES[src.table]
    shapes = {h: _shape(src.frame[h]) for h in src.frame.columns}
    cands = []
    for h in src.frame.columns:
        for c in table.columns:
            score, why = _column_score(str(h), c, shapes[h][0])
            if score > 0:
                cands.append((score, str(h), c.name, why))
    used_h, used_c = set(), set()
    for _score, h, c, why in sorted(cands, key=lambda x: (-x[0], x[1], x[2])):
        if h in used_h or c in used_c:
            continue
        used_h.add(h)
        used_c.add(c)
        src.columns[h] = (c, why)
    src.shapes = shapes
    # one required date column unplaced and one date-shaped column left: they are each other
    left_dates = [h for h in map(str, src.frame.columns) if h not in src.columns and shapes[h][0] == "date"]
    need_dates = [c.name for c in table.columns if c.kind == "date" and c.required and c.name not in used_c]
    if len(left_dates) == 1 and len(need_dates) == 1:
        src.columns[left_dates[0]] = (need_dates[0], f"the only date column left, and {need_dates[0]} is required")


#: a value is written into the draft only if at least this many rows hold it: a category, not a person
MIN_ROWS = 5


def _code_like(values: list[str]) -> bool:
    """Whether a code column's distinct values read as codes: few, short, and no identifier pattern (phone,
    e-mail, NHS number, postcode, police reference ...) among them."""
    if not values or len(values) > 60:
        return False
    if scan_column(pd.Series(values, dtype=object)):
        return False
    return all(len(v) <= 40 and len(v.split()) <= 5 and not re.search(r"\d{5,}", v) for v in values)


def _frequent(cells: list[str], col: Column, per_person: bool) -> tuple[list[str], int]:
    """The distinct values to list (sorted), and how many rarer ones are left out.

    In a table about people a value held by fewer than MIN_ROWS rows is listed only when it is a word the
    draft knows for one of the column's codes (``Not known``): any other rare value may single someone out
    (a name typed where a code belongs), so it is counted, never written.  Sites are not people."""
    counts = pd.Series(cells, dtype=object).value_counts()
    keep = sorted(str(v) for v, n in counts.items()
                  if not per_person or n >= MIN_ROWS or _guess_code(str(v), col)[0] is not None)
    return keep, len(counts) - len(keep)


def _rare_note(n_rare: int, col: Column, header: str) -> list[str]:
    if not n_rare:
        return []
    return [f"        # TODO {col.name}: {n_rare} value(s) of '{header}' held by fewer than {MIN_ROWS} rows are not "
            "listed (a rare value could single someone out): add them here by hand if they are codes"]


def _guess_code(value: str, col: Column) -> tuple[str | None, str]:
    n = _norm(value)
    kind_syn = CODE_SYNONYMS.get("bool" if col.kind == "bool" else col.name, {})
    if col.kind == "bool":
        hit = kind_syn.get(n)
        return (hit, "a yes/no word") if hit else (None, "")
    codes = {c: _norm(c) for c in col.values}
    for c, cn in codes.items():
        if n == cn:
            return c, "the contract's code"
    if n in kind_syn:
        return kind_syn[n], "a usual word for it"
    close = difflib.get_close_matches(n, list(codes.values()), n=1, cutoff=0.8)
    if close:
        return next(c for c, cn in codes.items() if cn == close[0]), "close to the contract's code"
    abbrev = _abbreviation(n, codes)
    if abbrev:
        return abbrev
    return None, ""


def _subsequence(short: str, word: str) -> bool:
    it = iter(word)
    return all(ch in it for ch in short)


def _abbreviation(n: str, codes: dict[str, str]) -> tuple[str, str] | None:
    """A short code read as an abbreviation of exactly one contract code: its initials (``do``: dropped out),
    else its letters in order from the code's first word (``grp``: group, ``unemp``: unemployed), else from
    a later word (``call``: police callout).  Ambiguous abbreviations are left to the evaluator."""
    v = n.replace(" ", "")
    if not v.isalpha() or len(v) > 6:
        return None
    initials = [c for c, cn in codes.items() if "".join(w[0] for w in cn.split()) == v and len(cn.split()) > 1]
    if len(initials) == 1:
        return initials[0], f"the initials of {initials[0]}"
    for rank in (0, 1):
        hits = [c for c, cn in codes.items()
                if any(w.startswith(v[0]) and _subsequence(v, " ".join(cn.split()[k:]))
                       for k, w in enumerate(cn.split()) if (k == 0) == (rank == 0))]
        if len(hits) == 1:
            return hits[0], f"reads as an abbreviation of {hits[0]}"
        if hits:
            return None
    return None


def _yaml_str(s) -> str:
    s = str(s)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _separator(values: list[str]) -> str | None:
    for sep in (";", ",", "|", "/"):
        if any(sep in v for v in values):
            return sep
    return None


def _values_block(src: _Source, header: str, col: Column, lines: list[str]) -> None:
    text = _text(pd.concat([src.frame[header], *[m.frame[header] for m in src.more]], ignore_index=True))
    cells = text[text != ""].tolist()
    per_person = src.table != "sites"
    distinct, n_rare = _frequent(cells, col, per_person)
    if col.kind == "set":
        sep = _separator(sorted(set(cells)))
        parts, n_rare = _frequent([p.strip() for v in cells for p in (v.split(sep) if sep else [v]) if p.strip()],
                                  col, per_person)
        if (sep in (None, ";")) and all(p in col.values for p in parts):
            return  # already the contract's own codes and separator
        if not _code_like(parts):
            lines.append(f"      # TODO {col.name}: '{header}' has {len(parts)} distinct parts or values that do not "
                         "look like codes; not listed here")
            return
        lines.append(f"      {col.name}:   # '{header}' holds several choices per cell"
                     + (f", separated by '{sep}'" if sep else "") + f"; contract codes: {', '.join(col.values)}")
        lines.append(f"        separator: {_yaml_str(sep or ';')}")
        lines.append("        values:")
        for p in parts:
            code, why = _guess_code(p, col)
            lines.append(f"          {_yaml_str(p)}: {code}   # {why}" if code else
                         f"          {_yaml_str(p)}: TODO   # TODO: which of {', '.join(col.values)}?")
        lines.extend("  " + ln for ln in _rare_note(n_rare, col, header))
        return
    if not _code_like(distinct):
        lines.append(f"      # TODO {col.name}: '{header}' has {len(distinct)} distinct values that do not look "
                     "like codes; not listed here (check the column)")
        return
    options = "true, false" if col.kind == "bool" else ", ".join(col.values)
    entries = []
    for v in distinct:
        code, why = _guess_code(v, col)
        if code is not None and v == code:
            continue  # already the contract's own spelling
        if col.kind == "bool" and v.lower() in ("true", "false"):
            continue
        entries.append(f"        {_yaml_str(v)}: {code}   # {why}" if code else
                       f"        {_yaml_str(v)}: TODO   # TODO: which of {options}?")
    rare = _rare_note(n_rare, col, header)
    if entries or rare:
        lines.append(f"      {col.name}:   # distinct values of '{header}' against the contract's codes: {options}")
        lines.extend(entries + rare)


def _date_format(sources: list[_Source]) -> tuple[str | None, str]:
    seen: dict[str, int] = {}
    for s in sources:
        for h in s.columns:
            kind, fmt = s.shapes[h]
            if kind == "date" and fmt:
                seen[fmt] = seen.get(fmt, 0) + 1
    if not seen:
        return None, ""
    fmt = max(seen, key=seen.get)
    return fmt, f"{seen[fmt]} date column(s) are written like {fmt.replace('%d', 'DD').replace('%m', 'MM').replace('%Y', 'YYYY')}"


def _derive_block(src: _Source, missing: list[Column], lines: list[str]) -> list[Column]:
    """Guesses for required columns the sheet lacks; returns those still unplaced."""
    left = []
    label = _norm(f"{src.file} {src.sheet or ''}")
    for col in missing:
        if col.name == "instrument" and "dash" in label.split():
            lines.append("      instrument: {value: DASH}   # the sheet's name says DASH; no instrument column")
        elif col.name == "event_id":
            continue
        else:
            left.append(col)
    return left


def _where_lines(s: _Source) -> list[str]:
    """file:/sheet: (or files: for a table over several files) of a placed table."""
    out = []
    if s.more:
        out.append(f"    files:   # {len(s.more) + 1} files with the same header: their rows are stacked in this order")
        for m in [s, *s.more]:
            out.append(f"      - {{file: {_yaml_str(m.file)}, sheet: {_yaml_str(m.sheet)}}}" if m.sheet is not None
                       else f"      - {_yaml_str(m.file)}")
        return out
    if not (s.sheet is None and Path(s.file).stem == s.table):
        out.append(f"    file: {_yaml_str(s.file)}")
    if s.sheet is not None:
        out.append(f"    sheet: {_yaml_str(s.sheet)}")
    return out


def _where_text(s: _Source, *, file_word: str = "file ") -> str:
    """Where a source is, as the draft's comments name it."""
    return f"{file_word}'{s.file}'" + (f", sheet '{s.sheet}'" if s.sheet else "")


def _section(name: str, lines: list[str]) -> list[str]:
    """A map section (``columns:``, ``values:``, ``derive:``) with its lines, or nothing when it has none."""
    return [f"    {name}:", *lines] if lines else []


def _todo_example(s: _Source, col: Column, unplaced: list[str]) -> str:
    """An example derivation for a required column the export lacks (a date from a day or week count)."""
    if col.kind == "date":
        counts = [h for h in unplaced if s.shapes[h][0] == "number" and re.search(r"day|week|wait", h, re.I)]
        dates = sorted((c for c, _ in s.columns.values() if c.endswith("_date")), key=lambda c: c != "referral_date")
        if counts and dates:
            unit = "add_weeks" if "week" in counts[0].lower() else "add_days"
            return f"{col.name}: {{{unit}: [{dates[0]}, {counts[0]}]}}"
    return f"{col.name}: {{value: ...}}"


def _table_block(s: _Source) -> list[str]:
    """The draft's lines for one file or sheet placed as a contract table."""
    table = TABLES[s.table]
    out = [f"  {s.table}:   # {_where_text(s)}: {s.why}", *_where_lines(s)]
    out += _section("columns", [f"      {_yaml_str(h)}: {c}   # {why}" for h, (c, why) in s.columns.items() if h != c])
    vlines: list[str] = []
    for h, (c, _) in s.columns.items():
        col = next(x for x in table.columns if x.name == c)
        if col.kind in ("enum", "set", "bool"):
            _values_block(s, h, col, vlines)
    out += _section("values", vlines)
    have = {c for c, _ in s.columns.values()}
    dlines: list[str] = []
    left = _derive_block(s, [c for c in table.columns if c.name not in have and c.required], dlines)
    out += _section("derive", dlines)
    unplaced = [str(h) for h in s.frame.columns if str(h) not in s.columns]
    out += [f"    # TODO: no column found for {col.name} ({col.description}); map a column under columns:, "
            f"or derive it under derive: (e.g. {_todo_example(s, col, unplaced)})" for col in left]
    if unplaced:
        out.append("    drop:   # TODO: not contract columns, so not read (move a name to keep: to carry it "
                   "as an extra column)")
        out += [f"      - {_yaml_str(h)}" for h in unplaced]
    return out


def _header_lines(export: Path, sources: list[_Source]) -> list[str]:
    """The draft's opening comments and its date format."""
    fmt, fmt_why = _date_format([s for s in sources if s.table in TABLES])
    out = [f"# Column map drafted by `dapp-eval map {export}`: check every guess, fill in every TODO.",
           "# A TODO left in place is refused by `dapp-eval validate`, which names its line.",
           "# Guide: docs/column-maps.md. Name this file in evaluation.yaml (column_map:).", ""]
    if fmt and fmt != "%Y-%m-%d":
        out.append(f'date_format: "{fmt}"   # {fmt_why}')
    elif fmt:
        out.append(f"# dates are ISO (YYYY-MM-DD): {fmt_why}")
    return out


def _unplaced_lines(sources: list[_Source], skipped: list[str]) -> list[str]:
    """TODOs for files that matched no table, required tables not found, and files not read."""
    placed = {s.table for s in sources if s.table in TABLES}
    out = [f"# TODO: {_where_text(s, file_word='')} matched no contract table; add it under tables: if it holds one"
           for s in sources if s.table is None]
    out += [f"# TODO: no file or sheet found for the required table {t}" for t in TABLES
            if t not in placed and not TABLES[t].optional]
    return out + [f"# TODO: {msg}" for msg in skipped]


def draft_map(export: str | Path) -> str:
    """A draft column map (YAML text) for the export at ``export`` (a folder, or one workbook or CSV file).

    Parameters
    ----------
    export : str or Path

    Returns
    -------
    str
        The draft, every guess commented with why, ``TODO`` on what could not be placed.

    Examples
    --------
    >>> text = draft_map("data_synthetic")  # a folder already in the contract's form: nothing to fill in
    >>> "referrals:" in text, ": TODO" in text, "# TODO" in text
    (True, False, False)
    """
    export = Path(export)
    if not export.exists():
        raise FileNotFoundError(f"{export} does not exist")
    folder, sources, skipped = _read_sources(export)
    _place_tables(sources)
    for s in sources:
        if s.table in TABLES:
            _place_columns(s)
    out = _header_lines(export, sources)
    out.append("tables:")
    for s in sorted((s for s in sources if s.table in TABLES), key=lambda s: list(TABLES).index(s.table)):
        out.extend(_table_block(s))
    out += _unplaced_lines(sources, skipped)
    return "\n".join(out) + "\n"
