"""What the demo and the national generator share: the vocabulary of the sample rows (event
types and titles, roles, advice topics, survey items and their planted shares), the receipt hour,
one random stream per key, and the quarter tag in generated ids."""
from __future__ import annotations

import numpy as np

EVENT_TYPES = ("training", "network_meeting", "information", "workshop", "round_table",
               "culture", "best_practice", "conference", "other")
EVENT_WEIGHTS = (0.25, 0.20, 0.19, 0.08, 0.06, 0.07, 0.08, 0.04, 0.03)
ROLES = ("volunteer", "staff", "newcomer", "other")
# Who comes to what: shares of volunteers, staff, newcomers and others among the participants.
ROLE_MIX = {
    "training": (0.50, 0.20, 0.20, 0.10),
    "network_meeting": (0.30, 0.45, 0.10, 0.15),
    "information": (0.10, 0.10, 0.60, 0.20),
    "best_practice": (0.40, 0.40, 0.10, 0.10),
    "round_table": (0.25, 0.50, 0.15, 0.10),
}
DEFAULT_ROLE_MIX = (0.25, 0.15, 0.35, 0.25)

EVENT_TITLES = {
    "training": ("Schulung Interkulturelle Kompetenz", "Schulung für Ehrenamtliche: Asyl- und Aufenthaltsrecht",
                 "Bildungsveranstaltung Rassismuskritik im Verein", "Schulung Leichte Sprache",
                 "Qualifizierung Integrationslotsinnen und -lotsen"),
    "network_meeting": ("Vernetzungstreffen Ehrenamt", "Netzwerktreffen Integration im Landkreis",
                        "Austausch der Willkommensinitiativen", "Vernetzungstreffen Migrantenorganisationen"),
    "information": ("Infoabend Anerkennung ausländischer Berufsabschlüsse",
                    "Informationsveranstaltung Ausbildung und Arbeit",
                    "Infoabend Kita und Schule\n(mit Dolmetschung)", "Bürgerinformation Wohnen und Mobilität"),
    "workshop": ("Workshop Vereinsarbeit interkulturell", "Workshop Fördermittel beantragen; Praxisteil"),
    "round_table": ("Runder Tisch Integration", "Runder Tisch Wohnen"),
    "culture": ("Lesung „Ankommen auf dem Land“", "Interkulturelles Fest", "Kochen, Reden, Kennenlernen",
                "Filmabend mit Gespräch"),
    "best_practice": ("Best-Practice-Treffen Patenschaftsprojekte", "Gute Beispiele: Integration im Sportverein",
                      "Praxisaustausch Mobilität auf dem Land"),
    "conference": ("Fachtag Integration im ländlichen Raum", "Regionalkonferenz Teilhabe"),
    "other": ("Sprachcafé", "Ausflug mit Patenfamilien"),
}
EVENT_FIELDS = {
    "training": ("education",), "network_meeting": ("cross_cutting", "social_culture"),
    "information": ("education", "economy"), "workshop": ("economy", "education"),
    "round_table": ("politics",), "culture": ("social_culture",), "best_practice": ("cross_cutting",),
    "conference": ("cross_cutting", "politics"), "other": ("social_culture",),
}
ADVICE_TOPICS = {
    "person": ("Aufenthaltsrecht", "Anerkennung Berufsabschluss", "Sprachkurs", "Wohnungssuche",
               "Ausbildung und Arbeit", "Kita und Schule"),
    "group": ("Ehrenamtliche Begleitung", "Sprachpatenschaften", "Freizeitangebote"),
    "organisation": ("Fördermittel", "Vereinsgründung", "Interkulturelle Öffnung", "Öffentlichkeitsarbeit"),
}
MICRO_APPLICANTS = ("Heimatverein Lübz e.V.", "SV Hagenow 1921 e.V.", "Ev. Kirchengemeinde Parchim",
                    "Freiwillige Feuerwehr Boizenburg", "Landfrauenverein Ludwigslust e.V.",
                    "Tafel Hagenow e.V.", "Kulturverein Alte Synagoge e.V.", "Jugendclub Plate",
                    "Willkommensinitiative Crivitz", "Gartenfreunde Sternberg e.V.",
                    "Förderverein Grundschule Dömitz", "Musikschule Ludwigslust-Parchim",
                    "Chor Grabow e.V.", "Seniorenbeirat Lübtheen")

SURVEY_ITEMS = ("belonging", "participation", "information_access", "contacts")
SURVEY_GROUPS = ("newcomer", "resident", "volunteer")
SURVEY_GROUP_SHARES = (0.45, 0.40, 0.15)
# Latent means on the 1-5 scale; scores are the latent value rounded and clipped.
SURVEY_BASE = {"belonging": 3.0, "participation": 2.9, "information_access": 2.8, "contacts": 3.1}
SURVEY_GROUP_SHIFT = {
    "newcomer": {"belonging": -0.4, "participation": -0.3, "information_access": -0.5, "contacts": -0.2},
    "resident": {"belonging": 0.2, "participation": 0.0, "information_access": 0.3, "contacts": 0.0},
    "volunteer": {"belonging": 0.4, "participation": 0.5, "information_access": 0.4, "contacts": 0.5},
}
# Baseline -> follow-up change everywhere (a common trend) and on top in programme districts only.
# `belonging` carries the planted programme effect (+0.4 vs +0.1); `contacts` has none.
SURVEY_TREND = {"belonging": 0.1, "participation": 0.05, "information_access": 0.1, "contacts": 0.15}
SURVEY_EFFECT = {"belonging": 0.3, "participation": 0.15, "information_access": 0.1, "contacts": 0.0}
# A planted pre-trend (programmes listing numbered waves): in programme districts this item rises
# by this much per wave *before* the start, so the event study's pre-trend test must flag it
# (lzz-2 participation: wave 1 lies 0.3 below wave 2 there, flat in the comparison districts).
SURVEY_PRE_TREND = {"participation": 0.3}
SURVEY_SD = 0.9
SURVEY_MISSING = 0.05

# Deliveries arrive at 09:00 UTC on their day.
RECEIPT_HOUR_UTC = 9


def stream(seed: int, *keys: int) -> np.random.Generator:
    # One stream per district / delivery, so adding a draw in one place shifts nothing elsewhere.
    return np.random.default_rng([seed, *keys])


def qtag(quarter: str) -> str:
    return quarter.replace("-", "")
