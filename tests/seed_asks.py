"""What the five seed reports (shared/seeds/) ask for, quoted, and the report section that answers each ask.

Kept as data so that a test (tests/test_seed_asks.py) can check that every ask is answered by a section of
the release that exists, renders on the shipped synthetic data (which hold every item of contract
version 2), and says in a sentence that the data do not hold the item when they do not.

Seeds: Bromley 2014 (Public Protection and Safety PDS committee), Coventry 2016 (Scrutiny Co-ordination
Committee), London Councils 2018 (Grants Committee thematic review), Portsmouth 2014 (Cabinet Member for
Environment and Community Safety), Leicestershire 2023 (Police and Crime Panel).
"""

#: (seed, quote from the seed, what is asked, section answering it); the sections are those of issue 32
SEED_ASKS: list[tuple[str, str, str, str]] = [
    # equality monitoring (4 seeds)
    ("Leicestershire 2023", "we have seen 13 females, 93 males, 1 identifying as LGBTQ+, 73 who identify as White "
     "British, 25 Asian, 4 mixed race and 2 Black/African/Afro-Caribbean", "equality monitoring", "equality"),
    ("Leicestershire 2023", "The local need spans across genders, sexual orientations, race and religions",
     "equality monitoring by sexual orientation and religion", "equality"),
    ("London Councils 2018", "Funded organisations are also required to submit equalities monitoring data",
     "equalities monitoring", "equality"),
    ("Coventry 2016", "White British males between ages of 25-34 are the most prominent category",
     "profile by age band, gender and ethnicity", "equality"),
    ("Coventry 2016", "2 child perpetrators aged 16 – 17 have accessed the service", "under-18s referred",
     "equality"),
    ("Portsmouth 2014", "A preliminary EIA has been completed", "equality impact (who is reached and served)",
     "equality"),
    # children (3 seeds)
    ("Leicestershire 2023", "341 secondary/children victims", "children affected", "children"),
    ("Coventry 2016", "230 children have been referred to social care where the perpetrator has accessed the "
     "service", "children and children's services involvement", "children"),
    ("Bromley 2014", "Any changes in child protection involvement", "child protection plans before and after",
     "children"),
    # partner support (3 seeds)
    ("Leicestershire 2023", "the number of victims supported with both the Partner Support Service",
     "partner support: take-up and contacts", "partner_support"),
    ("Leicestershire 2023", "Support is offered for up to a year and is tailored around risk",
     "partner support duration", "partner_support"),
    ("Bromley 2014", "A women’s safety worker provides professional liaison between couples engaged in the service",
     "partner support alongside the programme, safety planning", "partner_support"),
    ("London Councils 2018", "integrated support services for survivors alongside intervention for perpetrators",
     "partner support alongside the programme", "partner_support"),
    # programme strands (3 seeds)
    ("Leicestershire 2023", "Foundations consists of 6 group sessions and one 121 session",
     "results by programme strand", "strands"),
    ("Leicestershire 2023", "Step Up Programme – This programme consists of 10 group sessions",
     "results by programme strand", "strands"),
    ("Bromley 2014", "This work can also be provided in a 1-2-1 setting with men who require language support",
     "a site running two courses", "strands"),
    # proven reoffending (2 seeds)
    ("Leicestershire 2023", "to ascertain a reoffending rate, with the hope that it shows a decrease on successful "
     "programme completion", "proven reoffending rate", "reoffending"),
    ("London Councils 2018", "with a view to reducing reoffending and repeat victimisation", "reoffending",
     "reoffending"),
    # area (2 seeds)
    ("Coventry 2016", "CV6 area has the highest number of referrals – 31%", "referrals by district", "districts"),
    ("Leicestershire 2023", "a steady intake of referrals to this service from across the city and county districts",
     "referrals and completion by district", "districts"),
    # capacity and utilisation (2 seeds)
    ("Coventry 2016", "Utilisation of service has been consistently high", "utilisation", "capacity"),
    ("Portsmouth 2014", "The delivery capacity of the programme is therefore dependent on sourcing future funding",
     "capacity and funding by funder", "capacity"),
    ("Leicestershire 2023", "2.5 FTE Interventions Workers", "staffing (FTE)", "capacity"),
    ("Portsmouth 2014", "Hampshire Police Crime Commissioner (£30,000) Children's Social Care, Public Health and "
     "Clinical Commissioning Group (£10,000 each)", "funding by funder", "capacity"),
    # complex needs (2 seeds)
    ("Leicestershire 2023", "perpetrators who disclose their previous experiences of trauma, abuse or Adverse "
     "Childhood Experiences", "adverse childhood experiences", "equality"),
    ("Coventry 2016", "the need for cultural / translation services", "interpreter needed and language",
     "equality"),
    # structured feedback
    ("Coventry 2016", "Agencies reported positive change", "referring agency's rating of change", "feedback"),
    ("Coventry 2016", "Relationship has improved", "partner's rating of the relationship", "feedback"),
    ("Bromley 2014", "Perpetrator’s assessment of changes in their behaviour", "perpetrator's rating of change",
     "feedback"),
    ("Bromley 2014", "Referring professional’s assessment of impact on any children",
     "referring agency's rating of the impact on children", "feedback"),
    # waiting list by risk
    ("Coventry 2016", "Prioritising the waiting list based on assessed risk through referring agencies",
     "waiting list by risk band", "waiting_list"),
]
