"""The programme data contract (``shared/spec/data-contract.md``) as code.

Every table of a programme data folder is described here once: its columns,
their types and the rules each value must obey.  The loader in
:mod:`dapp_eval.io` checks data against these definitions, the synthetic
generator writes to them, and the analyses rely on the column names.

Column types
------------
``str``    free text or identifier (kept as Python ``str``)
``enum``   one of a fixed set of lower-case codes
``int``    whole number (pandas ``Int64``, nullable)
``float``  real number
``bool``   ``true``/``false`` (also 1/0, yes/no, y/n, any case); pandas ``boolean``
``date``   ISO date ``YYYY-MM-DD`` (pandas ``datetime64[ns]``)
``set``    ``;``-separated subset of a fixed vocabulary
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Column",
    "Table",
    "TABLES",
    "TABLE_ORDER",
    "EXIT_REASONS",
    "STARTED_EXITS",
    "OTHER_EXITS",
    "REFERRAL_SOURCES",
    "SURVEY_BEHAVIOURS",
    "WAVES",
    "TIMEPOINTS",
    "INCIDENT_TYPES",
]


@dataclass(frozen=True)
class Column:
    """One column of a contract table.

    Parameters
    ----------
    name : str
        Public column name.
    kind : str
        One of ``str``, ``enum``, ``int``, ``float``, ``bool``, ``date``, ``set``.
    required : bool
        Whether the column must be present in the file.
    nullable : bool
        Whether an empty cell is allowed.
    values : tuple of str, optional
        Allowed codes for ``enum`` and ``set`` columns.
    min, max : float, optional
        Inclusive range for numbers.
    unique : bool
        Whether values must be unique within the table.
    description : str
        Plain-language meaning, used in the data dictionary.
    """

    name: str
    kind: str
    required: bool = True
    nullable: bool = False
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    unique: bool = False
    description: str = ""


@dataclass(frozen=True)
class Table:
    """A contract table: a file name, its columns and its keys."""

    name: str
    columns: tuple[Column, ...]
    optional: bool = False
    key: tuple[str, ...] = ()
    foreign_keys: tuple[tuple[str, str, str], ...] = field(default=())
    description: str = ""

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


PROGRAMME_MODELS = ("group", "one_to_one", "mixed")
REFERRAL_SOURCES = (
    "childrens_social_care",
    "police",
    "probation",
    "court",
    "family_court",
    "self",
    "health",
    "other",
)
GENDERS = ("male", "female", "other", "unknown")
ETHNICITIES = ("white_british", "white_other", "asian", "black", "mixed", "other", "unknown")
EMPLOYMENT = ("employed", "unemployed", "other", "unknown")
RELATIONSHIPS = ("partner", "ex_partner", "family", "other")
ABUSE_TYPES = ("physical", "emotional", "verbal", "sexual", "financial", "coercive_control", "stalking")
EXIT_REASONS = (
    "declined_assessment",
    "unsuitable",
    "declined_to_start",
    "dropped_out",
    "excluded",
    "moved_away",
    "custody",
    "completed",
    "other",
)
#: exit reasons that require a start date (the programme was started)
STARTED_EXITS = ("completed", "dropped_out", "excluded")
#: exits after starting that are neither completion, dropout nor exclusion
OTHER_EXITS = ("moved_away", "custody", "other")
SESSION_TYPES = ("group", "one_to_one")
TIMEPOINTS = ("intake", "midpoint", "exit", "follow_up")
INFORMANTS = ("practitioner", "partner", "self")
WAVES = ("T1", "T2", "T3", "T4")
SURVEY_BEHAVIOURS = (
    "physical_violence",
    "sexual_violence",
    "threats",
    "weapon_used",
    "injury",
    "harassment_stalking",
    "coercive_control",
    "child_exposed",
)
INCIDENT_TYPES = ("police_callout", "da_crime", "arrest", "marac_referral", "child_protection")

C = Column

SITES = Table(
    "sites",
    (
        C("site_id", "str", unique=True, description="Site identifier (unique)."),
        C("site_name", "str", description="Site or provider name."),
        C("programme_model", "enum", values=PROGRAMME_MODELS, description="Delivery model."),
        C("planned_sessions", "int", min=1, description="Planned number of sessions of the programme."),
        C("annual_cost_gbp", "float", required=False, nullable=True, min=0,
          description="Yearly contract cost in GBP (drives cost per referral / completion)."),
        C("target_completions", "int", required=False, nullable=True, min=0,
          description="Contracted yearly number of completions."),
        C("period_start", "date", description="First day of the evaluation period."),
        C("period_end", "date", description="Last day of the evaluation period."),
        C("data_extract_date", "date", description="Date the data were extracted; open cases are censored here."),
        C("incident_data_from", "date", required=False, nullable=True,
          description="First date covered by the linked incident data."),
    ),
    key=("site_id",),
    description="One row per programme site.",
)

REFERRALS = Table(
    "referrals",
    (
        C("referral_id", "str", unique=True, description="Referral episode identifier (unique)."),
        C("participant_id", "str", description="Pseudonymous person identifier; repeat referrals share it."),
        C("site_id", "str", description="Site receiving the referral (must exist in sites.csv)."),
        C("referral_date", "date", description="Date of referral."),
        C("referral_source", "enum", values=REFERRAL_SOURCES, description="Referring agency."),
        C("programme_name", "str", required=False, nullable=True, description="Programme name where a site runs several."),
        C("planned_sessions", "int", required=False, nullable=True, min=1,
          description="Override of the site's planned sessions for this referral."),
        C("gender", "enum", values=GENDERS, description="Gender of the person referred."),
        C("age", "int", nullable=True, min=14, max=100, description="Age at referral in years."),
        C("ethnicity", "enum", values=ETHNICITIES, description="Ethnic group."),
        C("employment", "enum", values=EMPLOYMENT, description="Employment status at referral."),
        C("prior_da_police_contact", "bool", nullable=True, description="Known prior police contact for domestic abuse."),
        C("substance_misuse", "bool", nullable=True, description="Substance misuse identified at referral."),
        C("relationship_to_victim", "enum", values=RELATIONSHIPS, description="Relationship to the person harmed."),
        C("abuse_types", "set", values=ABUSE_TYPES, nullable=True, description="Forms of abuse disclosed (;-separated)."),
        C("n_children", "int", min=0, description="Number of children in the family."),
        C("assessment_date", "date", nullable=True, description="Date of the suitability assessment."),
        C("assessment_outcome", "enum", nullable=True, values=("suitable", "unsuitable"),
          description="Outcome of the assessment."),
        C("start_date", "date", nullable=True, description="Date of the first attended session."),
        C("exit_date", "date", nullable=True, description="Date the episode was closed."),
        C("exit_reason", "enum", nullable=True, values=EXIT_REASONS, description="Reason for closing; empty = still open."),
    ),
    key=("referral_id",),
    foreign_keys=(("site_id", "sites", "site_id"),),
    description="One row per referral episode.",
)

SESSIONS = Table(
    "sessions",
    (
        C("referral_id", "str", description="Referral episode (must exist in referrals.csv)."),
        C("session_number", "int", min=1, description="Scheduled session number (1, 2, ...)."),
        C("session_date", "date", description="Date of the scheduled session."),
        C("session_type", "enum", values=SESSION_TYPES, description="Group or one-to-one session."),
        C("attended", "bool", description="Whether the person attended."),
    ),
    optional=True,
    key=("referral_id", "session_number"),
    foreign_keys=(("referral_id", "referrals", "referral_id"),),
    description="Attendance log: one row per scheduled session.",
)

RISK = Table(
    "risk_assessments",
    (
        C("referral_id", "str", description="Referral episode (must exist in referrals.csv)."),
        C("assessment_date", "date", description="Date the instrument was completed."),
        C("timepoint", "enum", values=TIMEPOINTS, description="Point in the programme."),
        C("instrument", "str", description="Instrument name in the registry (default DASH)."),
        C("score", "float", description="Total score, within the instrument's range."),
        C("informant", "enum", values=INFORMANTS, description="Who informed the score."),
    ),
    optional=True,
    key=("referral_id", "timepoint", "instrument", "informant"),
    foreign_keys=(("referral_id", "referrals", "referral_id"),),
    description="Risk scores by timepoint, instrument and informant.",
)

PARTNERS = Table(
    "partners",
    (
        C("partner_id", "str", description="Pseudonymous (ex-)partner identifier."),
        C("referral_id", "str", description="Referral episode (must exist in referrals.csv)."),
        C("relationship", "enum", values=RELATIONSHIPS, description="Relationship to the person referred."),
        C("gender", "enum", values=GENDERS, description="Gender of the (ex-)partner."),
        C("support_offered", "bool", description="Partner support service offered."),
        C("support_accepted", "bool", nullable=True, description="Partner support accepted."),
    ),
    optional=True,
    key=("partner_id", "referral_id"),
    foreign_keys=(("referral_id", "referrals", "referral_id"),),
    description="(Ex-)partners linked to a referral.",
)

_SURVEY_BOOLS = tuple(
    C(b, "bool", nullable=True, description=f"Reported {b.replace('_', ' ')} in the last 3 months.")
    for b in SURVEY_BEHAVIOURS
)

PARTNER_SURVEYS = Table(
    "partner_surveys",
    (
        C("partner_id", "str", description="Pseudonymous (ex-)partner identifier."),
        C("referral_id", "str", description="Referral episode (must exist in referrals.csv)."),
        C("wave", "enum", values=WAVES, description="Survey wave: T1 start, T2 ~3, T3 ~6, T4 ~12 months."),
        C("survey_date", "date", description="Date of the survey."),
        *_SURVEY_BOOLS,
        C("feels_safe", "int", nullable=True, min=1, max=5, description="1 = not safe at all ... 5 = very safe."),
        C("space_for_action", "float", nullable=True, min=0, max=100,
          description="Space for action score, 0-100 (higher = more freedom to act)."),
    ),
    optional=True,
    key=("partner_id", "referral_id", "wave"),
    foreign_keys=(("referral_id", "referrals", "referral_id"),),
    description="(Ex-)partner survey responses by wave.",
)

INCIDENTS = Table(
    "incidents",
    (
        C("incident_id", "str", unique=True, description="Record identifier (unique)."),
        C("event_id", "str", required=False, nullable=True, description="Groups records of one event; defaults to incident_id."),
        C("participant_id", "str", description="Person (must exist in referrals.csv)."),
        C("incident_date", "date", description="Date of the incident."),
        C("incident_type", "enum", values=INCIDENT_TYPES, description="Kind of record."),
        C("outcome_date", "date", required=False, nullable=True, description="Date a caution or conviction proved it."),
    ),
    optional=True,
    key=("incident_id",),
    foreign_keys=(("participant_id", "referrals", "participant_id"),),
    description="Linked police, MARAC and children's services records, keyed by person.",
)

TABLES: dict[str, Table] = {
    t.name: t for t in (SITES, REFERRALS, SESSIONS, RISK, PARTNERS, PARTNER_SURVEYS, INCIDENTS)
}
TABLE_ORDER = tuple(TABLES)
