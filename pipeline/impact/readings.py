"""The words of the impact estimates: the notes written into the table (why a row is withheld
or only indicative) and the plain-language sentence the site shows for a row, German and English.
Presentation text, kept beside the estimates because the site (dashboards/) imports it and
pipeline/ never imports dashboards/."""
from __future__ import annotations

import math
from typing import Mapping

from pipeline.impact.survey import ALL, ALL_COMPARISON

NOTES = {
    "suppressed": ("Weniger als {min_cell} Antworten in mindestens einer Zelle: Werte nicht veröffentlicht.",
                   "Fewer than {min_cell} responses in at least one cell: figures withheld."),
    "secondary": ("Zum Schutz einer kleinen Zelle derselben Tabelle nicht veröffentlicht "
                  "(sonst ließe sie sich herausrechnen).",
                  "Withheld to protect a small cell of the same table (it could otherwise be "
                  "derived by subtraction)."),
    "inherited": ("Nicht veröffentlicht, weil eine zugrunde liegende Vorher-nachher-Zelle geschützt ist.",
                  "Withheld because an underlying before/after cell is protected."),
    "not_estimable": ("Nicht schätzbar: kein Programm- oder kein Vergleichskreis mit Antworten in beiden Wellen.",
                      "Not estimable: no programme or no comparison district with responses in both waves."),
    "indicative": ("Weniger als {indicative_below} Antworten in mindestens einer Zelle: nur als Hinweis zu lesen.",
                   "Fewer than {indicative_below} responses in at least one cell: indicative only."),
    "one_programme": ("Nur ein Programmkreis: Das Intervall beruht auf sehr wenigen Kreisen und ist eher zu "
                      "weit; nur als Hinweis zu lesen.",
                      "Only one programme district: the interval rests on very few districts and tends to be "
                      "too wide; indicative only."),
    "one_comparison": ("Nur ein Vergleichskreis: nur als Hinweis zu lesen.",
                       "Only one comparison district: indicative only."),
    "unbounded": ("Die Daten begrenzen das Intervall nach mindestens einer Seite nicht (es reicht über den "
                  "möglichen Wertebereich hinaus).",
                  "The data do not bound the interval on at least one side (it reaches beyond the possible "
                  "range)."),
}


def note(reasons: list[str], lang: int, **values) -> str:
    return " ".join(NOTES[r][lang].format(**values) for r in reasons)


ITEM_LABEL = {"belonging": ("Zugehörigkeit", "sense of belonging"),
              "participation": ("Teilhabe", "participation"),
              "information_access": ("Informationszugang", "access to information"),
              "contacts": ("Kontakte", "contacts")}
GROUP_LABEL = {ALL: ("alle Befragten", "all respondents"), "newcomer": ("Zugewanderte", "newcomers"),
               "resident": ("Einheimische", "residents"), "volunteer": ("Ehrenamtliche", "volunteers")}
SCOPE_LABEL = {ALL: ("Alle Programmkreise", "All programme districts"),
               ALL_COMPARISON: ("Alle Vergleichskreise", "All comparison districts")}


def _num(value: float, lang: str, signed: bool = False) -> str:
    text = f"{value:+.2f}" if signed else f"{value:.2f}"
    if lang == "de":
        text = text.replace("-", "−").replace(".", ",")
    return text


def _p(value: float, lang: str) -> str:
    if value < 0.001:
        return "p < 0,001" if lang == "de" else "p < 0.001"
    text = f"p = {value:.3f}"
    return text.replace(".", ",") if lang == "de" else text


def _bound(value: float, lang: str) -> str:
    if math.isinf(value):
        return ("−∞" if lang == "de" else "-∞") if value < 0 else "+∞"
    return _num(value, lang)


def impact_reading(row: Mapping, lang: str = "de") -> str:
    """One estimate and its limits as a plain-language sentence (German with decimal comma, or
    English). Covers a finding, a null result, indicative and suppressed rows."""
    de = lang == "de"
    i = 0 if de else 1
    get = row.get if hasattr(row, "get") else (lambda key, default=None: row[key])
    item = ITEM_LABEL.get(get("item"), (get("item"), get("item")))[i]
    group = GROUP_LABEL.get(get("group"), (get("group"), get("group")))[i]
    district = get("district_ags")
    scope = SCOPE_LABEL[district][i] if district in SCOPE_LABEL else (get("district_name") or district)
    head = f"{scope}, {item} ({group})"
    note = get(f"note_{'de' if de else 'en'}") or ""
    if bool(get("suppressed")):
        return (f"{head}: nicht veröffentlicht. {note}" if de else f"{head}: not published. {note}").strip()

    est, lo, hi, p = (float(get(k)) for k in ("estimate", "ci_low", "ci_high", "p_value"))
    if math.isinf(lo) and math.isinf(hi):
        interval = ("kein begrenztes 95-%-Intervall: die Daten reichen dafür nicht" if de
                    else "no bounded 95 % interval: the data are not enough for one")
    else:
        interval = (f"95-%-Intervall {_bound(lo, 'de')} bis {_bound(hi, 'de')}" if de
                    else f"95 % interval {_bound(lo, 'en')} to {_bound(hi, 'en')}")
    excludes_zero = lo > 0 or hi < 0
    if get("method") == "did":
        if est > 0:
            direction = (f"um {_num(est, 'de')} Punkte günstiger" if de
                         else f"{_num(est, 'en')} points more favourably")
        elif est < 0:
            direction = (f"um {_num(-est, 'de')} Punkte ungünstiger" if de
                         else f"{_num(-est, 'en')} points less favourably")
        else:
            direction = "genauso" if de else "just the same"
        mb, mf = _num(float(get("mean_baseline")), lang), _num(float(get("mean_follow_up")), lang)
        cb, cf = _num(float(get("mean_comparison_baseline")), lang), _num(float(get("mean_comparison_follow_up")), lang)
        gp, gc = int(get("clusters_programme")), int(get("clusters_comparison"))
        if de:
            text = (f"{head}: Der Mittelwert (Skala 1–5) ging von {mb} auf {mf}, in den Vergleichskreisen von "
                    f"{cb} auf {cf}. Er entwickelte sich damit {direction} als in den Vergleichskreisen "
                    f"({interval}; {_p(p, 'de')}). ")
            text += ("Das Intervall schließt null aus: Der Unterschied ist statistisch belegt. " if excludes_zero else
                     "Das Intervall schließt null ein: Ein Unterschied ist nicht belegt – das heißt nicht, dass "
                     "das Programm nicht gewirkt hat, nur dass diese Daten es nicht zeigen können. ")
            text += (f"Mit nur {gp + gc} Kreisen ({gp} Programm-, {gc} Vergleichskreise) ist die Unsicherheit "
                     "groß, und auch ihre Schätzung ist unsicher. " if gp + gc < 20 else "")
            text += ("Die Schätzung setzt voraus, dass sich beide Kreisgruppen ohne das Programm gleich entwickelt "
                     "hätten; je Welle antworten andere Personen, und wer antwortet, wählt sich selbst aus.")
        else:
            text = (f"{head}: the mean (scale 1–5) went from {mb} to {mf}, in the comparison districts from "
                    f"{cb} to {cf}. It thus developed {direction} than in the comparison districts "
                    f"({interval}; {_p(p, 'en')}). ")
            text += ("The interval excludes zero: the difference is statistically supported. " if excludes_zero else
                     "The interval includes zero: a difference is not shown – which does not mean the programme "
                     "had no effect, only that these data cannot show one. ")
            text += (f"With only {gp + gc} districts ({gp} programme, {gc} comparison) the uncertainty is large, "
                     "and its own estimate is uncertain too. " if gp + gc < 20 else "")
            text += ("The estimate assumes both groups of districts would have developed alike without the "
                     "programme; different people answer in each wave, and respondents select themselves.")
    else:
        mb, mf = _num(float(get("mean_baseline")), lang), _num(float(get("mean_follow_up")), lang)
        nb, nf = int(get("n_baseline")), int(get("n_follow_up"))
        if de:
            text = (f"{head}: vorher {mb} (n = {nb}), nachher {mf} (n = {nf}) auf der Skala 1–5; Veränderung "
                    f"{_num(est, 'de', signed=True)} Punkte ({interval}). ")
            text += ("Das Intervall schließt null aus. " if excludes_zero else
                     "Das Intervall schließt null ein: Eine Veränderung ist nicht belegt. ")
            text += ("Ein Vorher-nachher-Vergleich zeigt Veränderung, nicht Wirkung: Ob sie auch ohne das "
                     "Programm eingetreten wäre, sagt erst der Vergleich mit den Vergleichskreisen; je Welle "
                     "antworten andere Personen.")
        else:
            text = (f"{head}: before {mb} (n = {nb}), after {mf} (n = {nf}) on the 1–5 scale; change "
                    f"{_num(est, 'en', signed=True)} points ({interval}). ")
            text += ("The interval excludes zero. " if excludes_zero else
                     "The interval includes zero: a change is not shown. ")
            text += ("A before/after comparison shows change, not impact: whether it would have happened "
                     "without the programme only the comparison districts can tell; different people answer "
                     "in each wave.")
    if bool(get("indicative")) and note:
        text += (" Hinweis: " if de else " Note: ") + note
    return text
