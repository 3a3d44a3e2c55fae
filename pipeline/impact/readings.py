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
    "few_districts": ("Inferenz braucht mehr Kreise: nur {districts} Kreise mit Antworten in beiden Wellen, "
                      "mindestens {min_districts} nötig; daher weder Intervall noch p-Wert.",
                      "Inference needs more districts: only {districts} districts with responses in both waves, "
                      "at least {min_districts} needed; hence no interval and no p-value."),
    "pre_trend": ("Vortrend nicht flach: Programm- und Vergleichskreise entwickelten sich schon vor dem Start "
                  "unterschiedlich; der DiD-Befund ist nur eingeschränkt belastbar.",
                  "Pre-trend not flat: programme and comparison districts already moved apart before the start; "
                  "the DiD finding is only of limited reliability."),
    "pre_trend_flat": ("Kein Vortrend nachweisbar: Vor dem Start liefen Programm- und Vergleichskreise im Rahmen "
                       "des Zufalls parallel (das belegt parallele Trends nicht, es widerlegt sie nur nicht).",
                       "No pre-trend detected: before the start programme and comparison districts ran parallel "
                       "within chance (this does not prove parallel trends, it only fails to refute them)."),
    "pre_trend_not_flat": ("Vortrend nicht flach: Schon vor dem Start entwickelten sich Programm- und "
                           "Vergleichskreise unterschiedlich; die DiD-Befunde dieses Items sind nur eingeschränkt "
                           "belastbar.",
                           "Pre-trend not flat: programme and comparison districts already moved apart before the "
                           "start; the DiD findings of this item are only of limited reliability."),
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


def p_label(value: float, lang: str, reps=None) -> str:
    """`p = 0,012`; below 0,001 `p < 0,001`; a bootstrap p-value of 0 (no draw as extreme) as
    `p < 1/(B + 1)` rounded up, never as 0: with B draws nothing smaller can be resolved."""
    if reps is not None and not _missing(reps) and float(reps) > 0 and value * float(reps) < 0.5:
        bound = math.ceil(1000 / (float(reps) + 1)) / 1000
        text = f"p < {bound:.3f}"
    elif value < 0.001:
        text = "p < 0.001"
    else:
        text = f"p = {value:.3f}"
    return text.replace(".", ",") if lang == "de" else text


def _missing(value) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def _bound(value: float, lang: str) -> str:
    if math.isinf(value):
        return ("−∞" if lang == "de" else "-∞") if value < 0 else "+∞"
    return _num(value, lang)


def _verdict(get, lang: str, what: str) -> str:
    """Whether the row is established: primary rows alone at 5 %, exploratory rows after Holm's
    correction within their family (pipeline/impact/multiplicity.py). `what`: did or pre_post."""
    de = lang == "de"
    lo, hi = float(get("ci_low")), float(get("ci_high"))
    excludes_zero = lo > 0 or hi < 0
    primary = get("family") == "primary"
    size = get("family_size")
    size = int(size) if not _missing(size) else 1
    adjusted = get("p_adjusted")
    corrected = (f"korrigiert {p_label(float(adjusted), 'de')}" if de else f"adjusted {p_label(float(adjusted), 'en')}"
                 ) if not _missing(adjusted) else ""
    noun = ("der Unterschied" if what == "did" else "die Veränderung") if de else \
        ("the difference" if what == "did" else "the change")
    if primary:
        head = "Vorab festgelegtes Hauptergebnis: " if de else "Primary outcome, declared in advance: "
    else:
        head = (f"Explorativ (eines von {size} Ergebnissen, gemeinsam nach Holm korrigiert): " if de
                else f"Exploratory (one of {size} results, corrected together by Holm's method): ")
    if bool(get("established")):
        return head + (f"Das Intervall schließt null aus: {_capital(noun)} ist statistisch belegt"
                       + ("" if primary else f" ({corrected})") + ". " if de else
                       f"the interval excludes zero: {noun} is statistically established"
                       + ("" if primary else f" ({corrected})") + ". ")
    if excludes_zero:   # only an exploratory row can get here
        return head + (f"Das Intervall schließt null aus, doch nach der Korrektur für {size} Vergleiche ist {noun} "
                       f"nicht belegt ({corrected}). " if de else
                       f"the interval excludes zero, but after correcting for {size} comparisons {noun} is not "
                       f"established ({corrected}). ")
    if what == "did":
        return head + ("Das Intervall schließt null ein: Ein Unterschied ist nicht belegt – das heißt nicht, dass "
                       "das Programm nicht gewirkt hat, nur dass diese Daten es nicht zeigen können. " if de else
                       "the interval includes zero: a difference is not established – which does not mean the "
                       "programme had no effect, only that these data cannot show one. ")
    return head + ("Das Intervall schließt null ein: Eine Veränderung ist nicht belegt. " if de else
                   "the interval includes zero: a change is not established. ")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _size_and_power(get, lang: str) -> str:
    """The effect in baseline standard deviations and the minimum detectable effect."""
    de = lang == "de"
    out = ""
    effect = get("effect_size")
    if not _missing(effect):
        out += (f"Das sind {_num(abs(float(effect)), 'de')} Standardabweichungen der Vorher-Antworten. " if de
                else f"That is {_num(abs(float(effect)), 'en')} standard deviations of the baseline answers. ")
    mde = get("mde")
    if not _missing(mde):
        out += (f"Kleinster Effekt, den diese Daten mit 80 % Wahrscheinlichkeit belegen würden: {_num(float(mde), 'de')} "
                "Punkte. " if de else
                f"Smallest effect these data would establish with 80 % probability: {_num(float(mde), 'en')} points. ")
    return out


def impact_reading(row: Mapping, lang: str = "de") -> str:
    """One estimate and its limits as a plain-language sentence (German with decimal comma, or
    English). Covers a finding, a null result, rows without inference (too few districts),
    indicative and suppressed rows. The means a DiD sentence quotes are the model's: baseline
    means and baseline + each side's change within its districts, so their difference of
    differences is the estimate."""
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

    if get("method") in ("did_top_box", "did_leave_one_out"):
        return _robustness_reading(get, lang, item, group, note)
    if get("method") in ("event_study", "placebo", "pre_trend"):   # read in the event-study table
        if get("method") == "pre_trend":
            return f"{head}: {note}".strip()
        wave = get("wave")
        return (f"{head}, Welle {wave} gegen Welle {get('reference_wave')}: {_num(float(get('estimate')), lang, signed=True)}. {note}"
                if de else f"{head}, wave {wave} against wave {get('reference_wave')}: "
                           f"{_num(float(get('estimate')), lang, signed=True)}. {note}").strip()
    est = float(get("estimate"))
    inference = not (_missing(get("p_value")) or _missing(get("ci_low")) or _missing(get("ci_high")))
    if inference:
        lo, hi, p = (float(get(k)) for k in ("ci_low", "ci_high", "p_value"))
        if math.isinf(lo) and math.isinf(hi):
            interval = ("kein begrenztes 95-%-Intervall: die Daten reichen dafür nicht" if de
                        else "no bounded 95 % interval: the data are not enough for one")
        else:
            interval = (f"95-%-Intervall {_bound(lo, 'de')} bis {_bound(hi, 'de')}" if de
                        else f"95 % interval {_bound(lo, 'en')} to {_bound(hi, 'en')}")
        interval = f" ({interval}; {p_label(p, lang, get('bootstrap_reps'))})"
    else:
        interval = ""
    no_inference = ("Ob der Unterschied mehr als Zufall ist, lässt sich mit so wenigen Kreisen nicht sagen. " if de
                    else "Whether the difference is more than chance cannot be told with so few districts. ")
    if get("method") == "did":
        if est > 0:
            direction = (f"um {_num(est, 'de')} Punkte günstiger" if de
                         else f"{_num(est, 'en')} points more favourably")
        elif est < 0:
            direction = (f"um {_num(-est, 'de')} Punkte ungünstiger" if de
                         else f"{_num(-est, 'en')} points less favourably")
        else:
            direction = "genauso" if de else "just the same"
        mb, mf = _num(float(get("mean_baseline")), lang), _num(float(get("mean_follow_up_adjusted")), lang)
        cb = _num(float(get("mean_comparison_baseline")), lang)
        cf = _num(float(get("mean_comparison_follow_up_adjusted")), lang)
        gp, gc = int(get("clusters_programme")), int(get("clusters_comparison"))
        if de:
            text = (f"{head}: Der Mittelwert (Skala 1–5) ging von {mb} auf {mf}, in den Vergleichskreisen von "
                    f"{cb} auf {cf} (Veränderung innerhalb der Kreise, wie im Modell). Er entwickelte sich damit "
                    f"{direction} als in den Vergleichskreisen{interval}. ")
        else:
            text = (f"{head}: the mean (scale 1–5) went from {mb} to {mf}, in the comparison districts from "
                    f"{cb} to {cf} (change within districts, as in the model). It thus developed {direction} than "
                    f"in the comparison districts{interval}. ")
        text += _verdict(get, lang, "did") if inference else no_inference
        text += _size_and_power(get, lang)
        if inference:
            text += (f"Mit nur {gp + gc} Kreisen ({gp} Programm-, {gc} Vergleichskreise) ist die Unsicherheit "
                     "groß, und auch ihre Schätzung ist unsicher. " if de else
                     f"With only {gp + gc} districts ({gp} programme, {gc} comparison) the uncertainty is large, "
                     "and its own estimate is uncertain too. ") if gp + gc < 20 else ""
        text += ("Die Schätzung setzt voraus, dass sich beide Kreisgruppen ohne das Programm gleich entwickelt "
                 "hätten; je Welle antworten andere Personen, und wer antwortet, wählt sich selbst aus." if de else
                 "The estimate assumes both groups of districts would have developed alike without the "
                 "programme; different people answer in each wave, and respondents select themselves.")
    else:
        mb, mf = _num(float(get("mean_baseline")), lang), _num(float(get("mean_follow_up")), lang)
        nb, nf = int(get("n_baseline")), int(get("n_follow_up"))
        pooled = district in SCOPE_LABEL
        within = ((" innerhalb der Kreise" if de else " within districts") if pooled else "")
        if de:
            text = (f"{head}: vorher {mb} (n = {nb}), nachher {mf} (n = {nf}) auf der Skala 1–5; Veränderung"
                    f"{within} {_num(est, 'de', signed=True)} Punkte{interval}. ")
        else:
            text = (f"{head}: before {mb} (n = {nb}), after {mf} (n = {nf}) on the 1–5 scale; change{within} "
                    f"{_num(est, 'en', signed=True)} points{interval}. ")
        text += _verdict(get, lang, "pre_post") if inference else no_inference.replace(
            "der Unterschied", "die Veränderung").replace("the difference", "the change")
        text += _size_and_power(get, lang)
        text += ("Ein Vorher-nachher-Vergleich zeigt Veränderung, nicht Wirkung: Ob sie auch ohne das "
                 "Programm eingetreten wäre, sagt erst der Vergleich mit den Vergleichskreisen; je Welle "
                 "antworten andere Personen." if de else
                 "A before/after comparison shows change, not impact: whether it would have happened "
                 "without the programme only the comparison districts can tell; different people answer "
                 "in each wave.")
    if bool(get("indicative")) and note:
        text += (" Hinweis: " if de else " Note: ") + note
    return text


def _pct(value: float, lang: str) -> str:
    text = f"{value * 100:.1f}"
    return text.replace("-", "−").replace(".", ",") if lang == "de" else text


def _robustness_reading(get, lang: str, item: str, group: str, note: str) -> str:
    """A robustness row (pipeline/impact/robustness.py) in words: what it checks, never a finding."""
    de = lang == "de"
    est = float(get("estimate"))
    inference = not (_missing(get("p_value")) or _missing(get("ci_low")) or _missing(get("ci_high")))
    top_box = get("method") == "did_top_box"
    unit = (" Prozentpunkte" if de else " percentage points") if top_box else \
        (" Punkte" if de else " points")

    def amount(value):
        return _pct(value, lang) if top_box else _num(value, lang)

    if inference:
        lo, hi, p = (float(get(k)) for k in ("ci_low", "ci_high", "p_value"))
        bounds = [("−∞" if de else "-∞") if math.isinf(lo) else amount(lo), "+∞" if math.isinf(hi) else amount(hi)]
        interval = (f" (95-%-Intervall {bounds[0]} bis {bounds[1]}; {p_label(p, lang, get('bootstrap_reps'))})" if de
                    else f" (95 % interval {bounds[0]} to {bounds[1]}; {p_label(p, lang, get('bootstrap_reps'))})")
    else:
        interval = ""
    if est > 0:
        direction = f"um {amount(est)}{unit} günstiger" if de else f"{amount(est)}{unit} more favourably"
    elif est < 0:
        direction = f"um {amount(-est)}{unit} ungünstiger" if de else f"{amount(-est)}{unit} less favourably"
    else:
        direction = "genauso" if de else "just the same"
    if top_box:
        scope = SCOPE_LABEL[ALL][0 if de else 1]
        mb, mf = _pct(float(get("mean_baseline")), lang), _pct(float(get("mean_follow_up_adjusted")), lang)
        cb = _pct(float(get("mean_comparison_baseline")), lang)
        cf = _pct(float(get("mean_comparison_follow_up_adjusted")), lang)
        text = (f"{scope}, {item} ({group}), Anteil der Antworten 4 oder 5: von {mb} % auf {mf} %, in den "
                f"Vergleichskreisen von {cb} % auf {cf} % (Veränderung innerhalb der Kreise). Er entwickelte sich "
                f"damit {direction} als in den Vergleichskreisen{interval}. Robustheitsprüfung des Ergebnisses zum "
                "Mittelwert (zählt Antworten statt Skalenschritte), kein eigenes Ergebnis." if de else
                f"{scope}, {item} ({group}), share answering 4 or 5: from {mb} % to {mf} %, in the comparison "
                f"districts from {cb} % to {cf} % (change within districts). It thus developed {direction} than in "
                f"the comparison districts{interval}. A robustness check of the result for the mean (it counts "
                "answers instead of scale steps), not a result of its own.")
    else:
        side = ("Programmkreis" if get("role") == "programme" else "Vergleichskreis") if de else \
            ("programme district" if get("role") == "programme" else "comparison district")
        name = get("district_name") or get("district_ags")
        text = (f"Ohne {name} ({side}), {item} ({group}): Die Programmkreise entwickelten sich {direction} als die "
                f"Vergleichskreise{interval}. Robustheitsprüfung: Hinge das Ergebnis an einem einzelnen Kreis, wiche "
                "diese Zeile deutlich von den anderen ab." if de else
                f"Without {name} ({side}), {item} ({group}): the programme districts developed {direction} than the "
                f"comparison districts{interval}. A robustness check: if the result hung on a single district, this "
                "row would stand far from the others.")
    if not inference:
        text += (" Ob der Unterschied mehr als Zufall ist, lässt sich mit so wenigen Kreisen nicht sagen." if de else
                 " Whether the difference is more than chance cannot be told with so few districts.")
    if bool(get("indicative")) and note:
        text += (" Hinweis: " if de else " Note: ") + note
    return text
