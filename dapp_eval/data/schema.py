"""The programme data contract (``shared/spec/data-contract.md``) as code.

Every table of a programme data folder is described here once: its columns,
their types and the rules each value must obey.  The loader in
:mod:`dapp_eval.data.io` checks data against these definitions, the synthetic
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

#: version of the data contract these definitions describe.  Version 2 added optional items only
#: (protected characteristics, district, complex needs, referral risk level and the tables children,
#: partner_support, capacity and feedback), so every version-1 folder is a valid version-2 folder.
CONTRACT_VERSION = 2

__all__ = [
    "CONTRACT_VERSION",
    "V2_REFERRAL_COLUMNS",
    "V2_TABLES",
    "PROTECTED_CHARACTERISTICS",
    "AGE_BANDS",
    "age_band",
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

# -- contract version 2 ------------------------------------------------------------------------
#: answers every protected characteristic allows besides its own codes
UNDISCLOSED = ("prefer_not_to_say", "not_recorded")
DISABILITY = ("yes", "no", *UNDISCLOSED)
RELIGIONS = ("no_religion", "christian", "muslim", "hindu", "sikh", "jewish", "buddhist", "other", *UNDISCLOSED)
SEXUAL_ORIENTATIONS = ("heterosexual", "gay_or_lesbian", "bisexual", "other", *UNDISCLOSED)
RISK_LEVELS = ("standard", "medium", "high")
CHILD_AGE_BANDS = ("under_5", "5_to_10", "11_to_15", "16_to_17")
CHILD_PLANS = ("none", "child_in_need", "child_protection", "looked_after", "not_recorded")
SUPPORT_CLOSED = ("completed", "disengaged", "declined", "moved_away", "referred_on", "other")
FUNDERS = ("home_office", "pcc", "local_authority", "childrens_services", "health", "probation", "charity", "other")
FEEDBACK_INFORMANTS = ("perpetrator", "partner", "referring_agency")
FEEDBACK_WAVES = ("exit", "follow_up")
FEEDBACK_ITEMS = ("behaviour_change", "understanding", "feels_safer", "relationship", "children")
#: the referral columns that are protected characteristics (Equality Act 2010) held by the contract
PROTECTED_CHARACTERISTICS = ("gender", "ethnicity", "disability", "religion", "sexual_orientation")
#: age bands of the equality monitoring (years at referral; the contract allows ages from 14)
AGE_BANDS = ("Under 18", "18 to 24", "25 to 34", "35 to 44", "45 to 54", "55 and over")


def age_band(age) -> str | None:
    """The equality-monitoring age band of an age in years (None when the age is missing).

    Examples
    --------
    >>> [age_band(a) for a in (16, 18, 34, 35, 60, None)]
    ['Under 18', '18 to 24', '25 to 34', '35 to 44', '55 and over', None]
    """
    try:
        a = float(age)
    except (TypeError, ValueError):
        return None
    if a != a:  # NaN
        return None
    for upper, band in zip((18, 25, 35, 45, 55), AGE_BANDS):
        if a < upper:
            return band
    return AGE_BANDS[-1]


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
        # contract version 2: every item optional
        C("district", "str", required=False, nullable=True,
          description="Postcode district (e.g. CV6) or local-authority code of the person's home; never a full "
                      "postcode (v2)."),
        C("disability", "enum", required=False, nullable=True, values=DISABILITY,
          description="Disability as the person describes it (Equality Act 2010) (v2)."),
        C("religion", "enum", required=False, nullable=True, values=RELIGIONS,
          description="Religion or belief (v2)."),
        C("sexual_orientation", "enum", required=False, nullable=True, values=SEXUAL_ORIENTATIONS,
          description="Sexual orientation (v2)."),
        C("aces_score", "int", required=False, nullable=True, min=0, max=10,
          description="Number of adverse childhood experiences disclosed (0-10) (v2)."),
        C("aces_flag", "bool", required=False, nullable=True,
          description="Adverse childhood experiences identified (where only a flag is kept) (v2)."),
        C("mental_health", "bool", required=False, nullable=True,
          description="Mental health need identified at referral (v2)."),
        C("interpreter_needed", "bool", required=False, nullable=True,
          description="An interpreter is needed to take part (v2)."),
        C("language", "str", required=False, nullable=True,
          description="Main language, lower case (e.g. english, polish, urdu) (v2)."),
        C("referral_risk_level", "enum", required=False, nullable=True, values=RISK_LEVELS,
          description="Risk level given by the referring agency (standard, medium, high) (v2)."),
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

CHILDREN = Table(
    "children",
    (
        C("child_id", "str", description="Pseudonymous child identifier (v2)."),
        C("referral_id", "str", description="Referral episode (must exist in referrals.csv)."),
        C("age_band", "enum", values=CHILD_AGE_BANDS, nullable=True, description="Age band at referral."),
        C("plan_at_referral", "enum", values=CHILD_PLANS, nullable=True,
          description="Children's services plan at referral (none, child in need, child protection, looked after)."),
        C("plan_at_12_months", "enum", values=CHILD_PLANS, nullable=True,
          description="Plan 12 months after referral; empty = not yet known."),
    ),
    optional=True,
    key=("child_id", "referral_id"),
    foreign_keys=(("referral_id", "referrals", "referral_id"),),
    description="Children in the family of a referral, one row per child and referral (v2).",
)

PARTNER_SUPPORT = Table(
    "partner_support",
    (
        C("partner_id", "str", description="Pseudonymous (ex-)partner identifier (as in partners.csv)."),
        C("referral_id", "str", description="Referral episode (must exist in referrals.csv)."),
        C("support_start", "date", description="First contact of the partner support service."),
        C("support_end", "date", nullable=True, description="Date support closed; empty = still supported."),
        C("n_contacts", "int", nullable=True, min=0, description="Contacts (calls, visits, messages) with the partner."),
        C("n_sessions", "int", nullable=True, min=0, description="IDVA or support-worker sessions."),
        C("safety_plan", "bool", nullable=True, description="A safety plan was made with the partner."),
        C("closed_reason", "enum", nullable=True, values=SUPPORT_CLOSED,
          description="Why support closed; empty = still supported."),
    ),
    optional=True,
    key=("partner_id", "referral_id"),
    foreign_keys=(("referral_id", "referrals", "referral_id"),),
    description="Partner support service: one row per supported (ex-)partner and referral (v2).",
)

CAPACITY = Table(
    "capacity",
    (
        C("site_id", "str", description="Site (must exist in sites.csv)."),
        C("quarter_start", "date", description="First day of the quarter."),
        C("funder", "enum", values=FUNDERS, description="Funder of the amount in funding_gbp."),
        C("funding_gbp", "float", required=False, nullable=True, min=0, description="Funding from this funder in the quarter (GBP)."),
        C("groups_run", "int", required=False, nullable=True, min=0,
          description="Groups run in the quarter (given on one row of the site and quarter; the others empty)."),
        C("places_offered", "int", required=False, nullable=True, min=0, description="Programme places available in the quarter."),
        C("places_filled", "int", required=False, nullable=True, min=0, description="Places taken up (people attending)."),
        C("staff_fte", "float", required=False, nullable=True, min=0, description="Staff in full-time equivalents."),
    ),
    optional=True,
    key=("site_id", "quarter_start", "funder"),
    foreign_keys=(("site_id", "sites", "site_id"),),
    description="Capacity, staffing and funding by site, quarter and funder (v2).",
)

FEEDBACK = Table(
    "feedback",
    (
        C("referral_id", "str", description="Referral episode (must exist in referrals.csv)."),
        C("informant", "enum", values=FEEDBACK_INFORMANTS, description="Who rated the change."),
        C("wave", "enum", values=FEEDBACK_WAVES, description="When: at exit, or at follow-up (about 6 months later)."),
        C("item", "enum", values=FEEDBACK_ITEMS, description="What was rated."),
        C("rating", "int", min=1, max=5,
          description="1 = much worse, 2 = worse, 3 = no change, 4 = better, 5 = much better."),
    ),
    optional=True,
    key=("referral_id", "informant", "wave", "item"),
    foreign_keys=(("referral_id", "referrals", "referral_id"),),
    description="Structured feedback: Likert ratings of change by informant and wave; no free text (v2).",
)

TABLES: dict[str, Table] = {
    t.name: t for t in (SITES, REFERRALS, SESSIONS, RISK, PARTNERS, PARTNER_SURVEYS, INCIDENTS,
                        CHILDREN, PARTNER_SUPPORT, CAPACITY, FEEDBACK)
}
#: the tables version 2 of the contract added
V2_TABLES = ("children", "partner_support", "capacity", "feedback")
#: the referral columns version 2 of the contract added
V2_REFERRAL_COLUMNS = ("district", "disability", "religion", "sexual_orientation", "aces_score", "aces_flag",
                       "mental_health", "interpreter_needed", "language", "referral_risk_level")
TABLE_ORDER = tuple(TABLES)
