"""Every word the conference site shows that is not from the catalogue, in German and English,
and how numbers and dates are written in each language (`1.234,5` / `15.03.2024` in German).

Labels of programmes, districts and indicators come from the catalogue (`label_de` / `label_en`,
`name_de` / `name_en`); this module only holds the site's own texts.
"""
from __future__ import annotations

import datetime as dt
import math
from numbers import Real

LANGS = ("de", "en")
# Fixed names, not strftime: the machine's locale must not change the published pages.
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Decimal and thousands separators; Plotly's layout.separators takes "<decimal><thousands>".
SEPARATORS = {"de": (",", "."), "en": (".", ",")}
# From Python's "1,234.5" to the language's separators in one pass (a site build formats a million numbers).
_SEPARATOR_SWAP = {lang: str.maketrans({",": thousands, ".": decimal})
                   for lang, (decimal, thousands) in SEPARATORS.items()}

TEXT = {
    "de": {
        "site_title": "Teilhabe-Monitor: Programme im Vergleich",
        "nav_start": "Start",
        "nav_programmes": "Programme",
        "nav_districts": "Landkreise",
        "nav_quality": "Datenqualität",
        "nav_methods": "Methoden",
        "other_lang": "English",
        "skip": "Zum Inhalt",
        "footer": "Statische Seite, ohne Netzverbindung lesbar. Zahlen aus dem Teilhabe-Monitor; "
                  "Personenzahlen unter {threshold} werden als „< {threshold}“ gezeigt.",
        # start page
        "start_lead": "Was in welchem Landkreis wirkt: Zielerreichung der Integrationsprogramme je Kreis, "
                      "Quartal für Quartal, aus den Lieferungen der Kreise.",
        "programme": "Programm",
        "funder": "Förderer",
        "period": "Laufzeit",
        "districts": "Landkreise",
        "comparison_districts": "Vergleichskreise",
        "latest_quarter": "Zuletzt gemeldet",
        "verdict": "Stand",
        "none_reported": "noch nichts gemeldet",
        "verdict_text": "{met} von {n} Zielwerten erreicht, {on_track} im Plan, {missed} im Rückstand",
        "verdict_no_targets": "keine Zielwerte festgelegt",
        "verdict_finished": "abgeschlossen",
        "verdict_running": "läuft ({share} der Laufzeit gemeldet)",
        "overview_chart": "Zielwerte je Programm nach Stand",
        "targets": "Zielwerte",
        # programme page
        "heatmap_title": "Zielerreichung je Kreis und Indikator (% des Zielwerts)",
        "heatmap_note": "Farbe und Zeichen zeigen den Stand: ✓ erreicht bzw. eingehalten, ↗ im Plan, "
                        "✗ im Rückstand bzw. überschritten. Die Farben sind auch bei Farbsehschwäche unterscheidbar.",
        "no_targets_here": "Für dieses Programm sind keine Zielwerte festgelegt.",
        "target_level_programme": "Die Zielwerte gelten für das Programm als Ganzes (Zeile „Alle Kreise“).",
        "by_indicator": "Indikatoren im Vergleich der Kreise",
        "bar_absolute": "absolut",
        "bar_per_10k": "je 10.000 Einw.",
        "target": "Zielwert",
        "target_per_10k": "Zielwert je 10.000 Einw.",
        "value": "Wert",
        "value_high": "obere Grenze",
        "cumulative_title": "{label}: kumuliert je Quartal gegen anteiligen Zielwert",
        "cumulative": "kumuliert",
        "cumulative_districts": "{n} Landkreise, je eine Linie",
        "pro_rata": "anteiliger Zielwert",
        "cumulative_note": "Summe der Quartalswerte. Bei eindeutig gezählten Personen kann die Summe über "
                           "den Gesamtwert steigen, weil eine Person in mehreren Quartalen vorkommt.",
        "survey_title": "Befragung (Wirkungsevaluation)",
        "survey_note": "Mittelwerte (1–5, 5 = am stärksten) mit 95-%-Konfidenzintervall; "
                       "Vergleichskreise sind mit ◇ markiert. Mittelwerte aus weniger als {threshold} "
                       "Antworten werden nicht gezeigt.",
        "micro_title": "Mikroprojektfonds: Fördersumme gegen Fonds und Höchstbetrag je Projekt",
        "micro_budget": "Fonds (höchstens)",
        "micro_cap": "Höchstbetrag je Projekt",
        "micro_granted": "bewilligt (kumuliert)",
        "micro_projects": "Projekte",
        "map_title": "Karte: mittlere Zielerreichung je Kreis",
        "map_metric": "Mittlere Zielerreichung (je Ziel höchstens 100 %)",
        "map_missing": "Keine Karte: Es ist keine Datei mit Kreisgrenzen eingestellt. Legen Sie eine GeoJSON-Datei "
                       "der Landkreise (Eigenschaft „ags“ mit dem fünfstelligen Kreisschlüssel) ab und setzen Sie "
                       "die Umgebungsvariable TEILHABE_GEOJSON auf ihren Pfad, z. B. "
                       "„export TEILHABE_GEOJSON=/pfad/kreise.geojson“, dann „teilhabe run“ erneut starten.",
        "map_no_district_targets": "Keine Karte: Die Zielwerte dieses Programms gelten nur für das Programm als Ganzes.",
        "map_no_features": "Keine Karte: Die eingestellte GeoJSON-Datei enthält keinen Kreis dieses Programms.",
        "all_districts": "Alle Kreise",
        "comparison_mark": "Vergleichskreis",
        "switch_hint": "Schalter oben links im Diagramm: absolut oder je 10.000 Einwohner.",
        # district page
        "district_lead": "{state} · {population} Einwohner (Zensus 2022)",
        "member_of": "Teil von",
        "over_time": "Indikatoren im Zeitverlauf ({programme})",
        "totals_table": "Gesamtwerte ({programme})",
        "deliveries": "Lieferungen",
        "indicator": "Indikator",
        "status": "Stand",
        "attainment": "Zielerreichung",
        "per_10k": "je 10.000 Einw.",
        "quarter": "Quartal",
        "file": "Datei",
        "received": "Eingang",
        "rows_read": "gelesen",
        "accepted": "angenommen",
        "rejected": "abgelehnt",
        "late": "verspätet",
        "corrected": "Korrekturen",
        "report": "Qualitätsbericht",
        "open_report": "Bericht öffnen",
        "no_deliveries": "Keine Lieferungen erhalten.",
        "comparison_only": "Vergleichskreis: liefert nur Befragungen für die Wirkungsevaluation.",
        "state": "Bundesland",
        "progress_title": "Fortschritt je Quartal gegen den anteiligen Zielwert",
        "progress_note": "Kumulierte Quartalswerte je Kreis; die gestrichelte Linie ist der Zielwert anteilig zur "
                         "verstrichenen Laufzeit. Liegt ein Kreis darüber, ist er im Plan.",
        "rejections_note": "Je Befund gezählt: Eine Zeile mit zwei Fehlern zählt zweimal, eine ganz "
                           "zurückgestellte Datei einmal.",
        "unassigned": "nicht zugeordnet",
        "masked_note": "„< {threshold}“: weniger als {threshold} Personen (Datenschutz); schraffierte Balken "
                       "zeigen nur die Obergrenze.",
        # quality page
        "quality_lead": "Welche Lieferungen pünktlich, verspätet oder gar nicht kamen, und welche Zeilen "
                        "aus welchem Grund abgelehnt wurden, mit Links zu den Qualitätsberichten der Lieferungen.",
        "reporting_rate": "Meldequote je Kreis und Quartal",
        "reporting_rate_value": "Meldequote: {on_time} pünktlich, {late} verspätet, {missing} fehlend von {n} erwarteten Lieferungen",
        "rejections_by_reason": "Abgelehnte Zeilen nach Grund",
        "rejections_table": "Abgelehnte Zeilen je Kreis und Grund",
        "reason": "Grund",
        "count": "Anzahl",
        "no_rejections": "Keine abgelehnten Zeilen.",
        "set_aside_files": "Zurückgestellte Dateien",
        "unassigned_report": "Bericht zu nicht zugeordneten Dateien",
        "deadline": "Frist",
        "legend": "Legende",
        # methods page
        "methods_lead": "Wie jede Zahl entsteht: Definition, Zielwert und Quelle jedes Indikators, aus dem Katalog.",
        "definition": "Definition",
        "unit": "Einheit",
        "direction": "Richtung",
        "default_target": "Zielwert (Standard)",
        "overrides": "Abweichende Zielwerte",
        "applies_to": "Gilt für",
        "all_programmes": "alle Programme",
        "references": "Bezug",
        "reach_method": "Reichweite: eindeutig, Summe oder gemischt",
        "reach_method_text": "Wo ein Kreis Teilnahmelisten mit Pseudonymen liefert, zählt jede Person einmal "
                             "(Methode „eindeutig“). Wo nur Kopfzahlen gemeldet sind, werden diese addiert "
                             "(„Summe“); eine Person kann dann mehrfach zählen. „Gemischt“: beides in einem Wert. "
                             "Pseudonyme gelten je Kreis, die Programmzeile addiert die Kreise.",
        "status_rules": "Stand eines Zielwerts",
        "status_rules_text": "erreicht: Wert ≥ Zielwert · im Plan: Wert ≥ Zielwert × gemeldeter Laufzeitanteil · "
                             "im Rückstand: darunter · für Höchstwerte: eingehalten oder überschritten. "
                             "Ein abgeschlossenes Programm hat den Laufzeitanteil 1.",
        "privacy_rules": "Datenschutz",
        "privacy_rules_text": "Auf diesen Seiten und in den Folien wird jede Personenzahl unter {threshold} "
                              "(Personen, Beratene, Befragungsantworten, Fallzahlen der Befragung) als "
                              "„< {threshold}“ gezeigt; Anteile und Werte je 10.000 Einwohner solcher Zahlen "
                              "ebenso. Die Exporte für die Evaluation enthalten die genauen Werte.",
        "sources": "Datenquellen",
        "source_population": "Einwohnerzahlen: {source}, Stichtag {date}. Statistische Ämter des Bundes und "
                             "der Länder, Zensus 2022; Datenlizenz Deutschland – Namensnennung – Version 2.0 "
                             "(dl-de/by-2-0).",
        "source_deliveries": "Indikatorwerte: Quartalslieferungen der Landkreise (Veranstaltungen, Teilnahmen, "
                             "Beratungen, Newsletter, Mikroprojekte, Befragung) nach dem Liefervertrag.",
        "source_geo": "Kreisgrenzen: {name} (vom Betreiber eingestellte Datei).",
        "source_geo_none": "Kreisgrenzen: keine Datei eingestellt (Umgebungsvariable TEILHABE_GEOJSON).",
        "parameters": "Parameter",
        "programme_sources": "Programme: Angaben aus den Programmbeschreibungen ({sources}).",
        "catalogue_file": "Katalog",
        "at_least": "mindestens",
        "at_most": "höchstens",
        "no_target": "kein Zielwert",
        "yes": "ja",
        "no": "nein",
        "page_programme": "Programm: {name}",
        "page_district": "Landkreis: {name}",
        # impact page
        "nav_impact": "Wirkung",
        "impact_programme_link": "Wirkung (Befragung vorher und nachher, gegen Vergleichskreise)",
        "impact_programme_link_text": "Schätzungen mit Intervallen und was sie bedeuten",
        "impact_title": "Wirkung: Befragung vorher und nachher, gegen Vergleichskreise",
        "impact_lead": "Fühlen sich Menschen in den Programmkreisen stärker zugehörig, nehmen sie mehr teil, als sie es "
                       "ohne das Programm getan hätten? Die Befragung vorher und nachher, verglichen mit Kreisen "
                       "ohne das Programm, gibt darauf eine vorsichtige Antwort – mit ehrlicher Unsicherheit.",
        "impact_how_to_read": "So lesen Sie diese Seite",
        "impact_how_to_read_text": "Jede Schätzung steht mit ihrem 95-%-Intervall da: dem Bereich, mit dem die Daten "
                                   "vereinbar sind. Schließt das Intervall null aus, ist ein Unterschied statistisch "
                                   "belegt; schließt es null ein, ist er nicht belegt – das heißt nicht, dass es keine "
                                   "Wirkung gibt. Maßgeblich ist die Differenz-von-Differenzen über alle Programmkreise "
                                   "und alle Befragten; Gruppen und einzelne Kreise beruhen auf weniger Antworten.",
        "impact_none": "Noch keine Befragungsdaten: Für die Wirkungsschätzung braucht es Antworten aus der "
                       "Vorher- und der Nachher-Befragung (Lieferart „Befragung“). Sobald sie geliefert und "
                       "verarbeitet sind, stehen hier die Ergebnisse.",
        "impact_programmes_without": "Ohne Befragungsdaten (keine Wirkungsschätzung): {names}.",
        "impact_programme_districts": "{n} Programmkreise",
        "impact_programme_districts_one": "{n} Programmkreis",
        "impact_comparison_districts": "{n} Vergleichskreise",
        "impact_comparison_districts_one": "{n} Vergleichskreis",
        "impact_to_programme": "zur Programmseite",
        "impact_glance": "Auf einen Blick: alle Programmkreise, alle Befragten",
        "impact_glance_pre_post": "Auf einen Blick: Veränderung vorher → nachher, alle Befragten",
        "impact_no_comparison": "Dieses Programm hat keine Vergleichskreise: Gezeigt wird nur die Veränderung "
                                "vorher → nachher, keine Wirkung.",
        "impact_item": "Item",
        "impact_change_programme": "Veränderung Programmkreise",
        "impact_change_comparison": "Veränderung Vergleichskreise",
        "impact_did": "Differenz (Wirkungsschätzung)",
        "impact_change": "Veränderung",
        "impact_interval": "95-%-Intervall",
        "impact_p": "p-Wert",
        "impact_n": "Antworten (vorher / nachher)",
        "impact_assessment": "Einordnung",
        "impact_readings": "In Worten",
        "impact_forest_title": "Schätzungen mit 95-%-Intervall",
        "impact_forest_did": "Differenz-von-Differenzen: Programmkreise gegen Vergleichskreise",
        "impact_forest_pre_post": "Veränderung vorher → nachher",
        "impact_forest_note": "Punkt: Schätzung (Punkte auf der Skala 1–5), Linie: 95-%-Intervall, senkrechte Linie: "
                              "kein Unterschied. Offene Kreise und gepunktete Linien: nur als Hinweis zu lesen "
                              "(weniger als 30 Antworten in einer Zelle oder nur ein Programm- bzw. Vergleichskreis). "
                              "Ein Pfeil ◀ ▶ am Rand: Das Intervall reicht weiter; „unbegrenzt“ heißt, die Daten "
                              "begrenzen es nach dieser Seite gar nicht (typisch bei einem einzigen Programmkreis). "
                              "Einzelne Kreise werden jeweils mit dem ganzen Vergleichspool verglichen.",
        "impact_unbounded_note": "Mindestens ein Intervall ist unbegrenzt: Mit so wenigen Kreisen lässt sich die "
                                 "Unsicherheit nach mindestens einer Seite nicht eingrenzen. Die Punktschätzung "
                                 "allein ist dann kein Ergebnis.",
        "impact_trends_title": "Mittelwerte je Welle und Gruppe",
        "impact_trends_note": "Mittelwert (Skala 1–5, 5 = am stärksten) je Welle mit 95-%-Intervall, für alle "
                              "Programmkreise zusammen (●, durchgezogen) und alle Vergleichskreise zusammen (◇, "
                              "gestrichelt). Laufen die Linien auseinander, hat sich die Lage in den Programmkreisen "
                              "anders entwickelt als in den Vergleichskreisen. Je Welle antworten andere Personen.",
        "impact_all_readings": "Alle Ergebnisse in Worten",
        "impact_all_readings_note": "Jede Zeile der Schätzung als Satz, mit ihren Grenzen. Zum Aufklappen anklicken.",
        "impact_readings_did": "Differenz-von-Differenzen ({n} Ergebnisse)",
        "impact_readings_pre_post": "Vorher-nachher ({n} Ergebnisse)",
        "impact_common_limit": "Für jedes Ergebnis dieser Liste gilt: {text}",
        "impact_districts_elsewhere": "{n} Programmkreise: Hier stehen die Ergebnisse aller Kreise zusammen und je "
                                      "Befragtengruppe; die Ergebnisse jedes Kreises stehen auf der Seite des Kreises "
                                      "(Abschnitt „Wirkung“).",
        "impact_district_title": "Wirkung (Befragung) – {programme}",
        "impact_district_note": "Die Ergebnisse dieses Kreises in Worten. Das Programm insgesamt:",
        "micro_overview_title": "Mikroprojektfonds je Kreis: bewilligte Summe gegen den Fonds",
        "micro_overview_note": "{n} Kreise mit Fonds: ein Balken je Kreis, nach bewilligter Summe sortiert; Strich: "
                               "der Fonds des Kreises; rot und gekreuzt: Fonds überschritten. Im Tooltip: Zahl der "
                               "Projekte und wie viele über dem Höchstbetrag je Projekt liegen.",
        "micro_projects_n": "{n} Projekte, {over} über dem Höchstbetrag",
        "bars_sorted_note": "Viele Kreise: Balken quer, nach Wert sortiert (der größte oben).",
        "rate_summary_note": "{n} Kreise: eine Zeile je Kreis; jede Lieferung mit ihrem Prüfbericht steht auf der "
                             "Seite des Kreises.",
        "rate_on_time_share": "pünktlich (Anteil)",
        "latest_report": "neuester Bericht",
        "rejections_summary_note": "Je Kreis die abgelehnten Zeilen nach Grund, mit dem Bericht der Lieferung mit "
                                   "den meisten Ablehnungen; jede abgelehnte Zeile steht im Bericht ihrer Lieferung.",
        "top_delivery": "meiste Ablehnungen",
        "impact_baseline": "vorher",
        "impact_follow_up": "nachher",
        "impact_programme_pool": "Programmkreise",
        "impact_comparison_pool": "Vergleichskreise",
        "impact_estimate": "Schätzung",
        "impact_supported": "Unterschied belegt",
        "impact_not_supported": "nicht belegt",
        "impact_indicative": "nur als Hinweis",
        "impact_withheld": "nicht veröffentlicht",
        "impact_withheld_short": "nicht veröffentlicht (< {threshold})",
        "impact_unbounded": "unbegrenzt",
        "impact_unbounded_below": "nach unten unbegrenzt, bis {hi}",
        "impact_unbounded_above": "ab {lo}, nach oben unbegrenzt",
        "impact_beyond": "reicht bis {value}",
        "impact_reliable": "Schätzung mit 95-%-Intervall",
        "impact_arrow": "Intervall reicht weiter",
        "impact_points": "Punkte (Skala 1–5)",
        "impact_method": "So wird geschätzt",
        "impact_method_text": [
            "Vorher-nachher: je Programm, Kreis und Gruppe der Mittelwert jeder Welle mit 95-%-Intervall und die "
            "Veränderung nachher − vorher mit einem Welch-Intervall (je Welle antworten andere Personen). Eine "
            "Veränderung ist keine Wirkung: Sie enthält alles, was auch ohne das Programm geschehen wäre.",
            "Differenz-von-Differenzen: Wie viel stärker sich der Mittelwert in den Programmkreisen verändert hat "
            "als in den Vergleichskreisen – geschätzt auf Ebene der einzelnen Antworten mit festen Effekten je "
            "Kreis, gepoolt über alle Programmkreise und für jeden Programmkreis gegen alle Vergleichskreise.",
            "Unsicherheit: Antworten aus demselben Kreis hängen zusammen, und es gibt nur wenige Kreise. Deshalb "
            "ein nach Kreisen geclusterter, restringierter Wild-Cluster-Bootstrap mit Webb-Gewichten; das Intervall "
            "ist die Menge der Werte, die dieser Test nicht ablehnt, und passt daher immer zum p-Wert. In "
            "Simulationen wie lzz-2 (6 + 4 Kreise) enthielt es den wahren Wert in rund 94 % der Fälle.",
            "Ehrlichkeitsregeln: Zellen mit weniger als {threshold} Antworten werden nie veröffentlicht (auch nicht "
            "über Summen herausrechenbar); weniger als 30 Antworten in einer Zelle oder nur ein Programm- bzw. "
            "Vergleichskreis heißt „nur als Hinweis“. Nur Befragungs-Items erhalten eine Wirkungsschätzung, nie "
            "Zählungen wie Veranstaltungen oder Newsletter.",
        ],
        "impact_limits": "Grenzen",
        "impact_limits_text": [
            "Wenige Kreise: Die Unsicherheit über die Wirkung stammt aus dem Vergleich von Kreisen, nicht von "
            "Personen. Mit einem einzigen Programmkreis sind die Intervalle sehr breit oder unbegrenzt, und ein "
            "kreiseigenes Ereignis lässt sich vom Programm nicht trennen.",
            "Parallele Entwicklung: Die Schätzung setzt voraus, dass sich Programm- und Vergleichskreise ohne das "
            "Programm gleich entwickelt hätten. Mit zwei Wellen ist das nicht prüfbar; Programmkreise haben sich "
            "beworben und sind nicht zufällig zugeteilt.",
            "Andere Befragte je Welle: Es ist kein Panel. Ändert sich die Zusammensetzung, verschiebt das die "
            "Mittelwerte ohne jede Wirkung; die Gruppen zeigen das.",
            "Selbstauswahl: Wer antwortet, wählt sich selbst aus. Die Ergebnisse gelten für die Antwortenden, nicht "
            "für alle Einwohner.",
            "Viele Vergleiche: Bei vielen Items, Gruppen und Kreisen sind einzelne „belegte“ Unterschiede auch ohne "
            "jede Wirkung zu erwarten (etwa 1 von 20). Maßgeblich ist die Zeile aller Programmkreise und Befragten.",
        ],
    },
    "en": {
        "site_title": "Teilhabe Monitor: programmes compared",
        "nav_start": "Home",
        "nav_programmes": "Programmes",
        "nav_districts": "Districts",
        "nav_quality": "Data quality",
        "nav_methods": "Methods",
        "other_lang": "Deutsch",
        "skip": "Skip to content",
        "footer": "Static site, readable without a network. Figures from the Teilhabe Monitor; "
                  "counts of persons below {threshold} are shown as “< {threshold}”.",
        "start_lead": "What works where: target attainment of the integration programmes per district, "
                      "quarter by quarter, from the districts' deliveries.",
        "programme": "Programme",
        "funder": "Funder",
        "period": "Period",
        "districts": "Districts",
        "comparison_districts": "Comparison districts",
        "latest_quarter": "Latest reported",
        "verdict": "Status",
        "none_reported": "nothing reported yet",
        "verdict_text": "{met} of {n} targets met, {on_track} on track, {missed} behind",
        "verdict_no_targets": "no targets set",
        "verdict_finished": "finished",
        "verdict_running": "running ({share} of the period reported)",
        "overview_chart": "Targets per programme by status",
        "targets": "Targets",
        "heatmap_title": "Target attainment per district and indicator (% of target)",
        "heatmap_note": "Colour and sign show the status: ✓ achieved or within, ↗ on track, ✗ behind or exceeded. "
                        "The colours stay distinguishable for colour-blind viewers.",
        "no_targets_here": "This programme sets no targets.",
        "target_level_programme": "Targets apply to the programme as a whole (row “All districts”).",
        "by_indicator": "Indicators compared across districts",
        "bar_absolute": "absolute",
        "bar_per_10k": "per 10,000 inhabitants",
        "target": "Target",
        "target_per_10k": "Target per 10,000 inhabitants",
        "value": "Value",
        "value_high": "upper bound",
        "cumulative_title": "{label}: cumulative per quarter against the pro-rata target",
        "cumulative": "cumulative",
        "cumulative_districts": "{n} districts, one line each",
        "pro_rata": "pro-rata target",
        "cumulative_note": "Sum of the quarterly values. For persons counted uniquely the sum can exceed the "
                           "total, since one person may come in several quarters.",
        "survey_title": "Survey (impact evaluation)",
        "survey_note": "Means (1–5, 5 = strongest) with 95 % confidence interval; comparison districts are "
                       "marked ◇. Means from fewer than {threshold} responses are not shown.",
        "micro_title": "Micro-project fund: funding against the fund and the cap per project",
        "micro_budget": "Fund (at most)",
        "micro_cap": "Cap per project",
        "micro_granted": "granted (cumulative)",
        "micro_projects": "Projects",
        "map_title": "Map: mean target attainment per district",
        "map_metric": "Mean target attainment (each target capped at 100 %)",
        "map_missing": "No map: no district boundary file is configured. Put a GeoJSON file of the districts "
                       "(property “ags” holding the 5-digit district key) somewhere and set the environment "
                       "variable TEILHABE_GEOJSON to its path, e.g. “export TEILHABE_GEOJSON=/path/kreise.geojson”, "
                       "then run “teilhabe run” again.",
        "map_no_district_targets": "No map: this programme's targets apply to the programme as a whole only.",
        "map_no_features": "No map: the configured GeoJSON file holds none of this programme's districts.",
        "all_districts": "All districts",
        "comparison_mark": "comparison district",
        "switch_hint": "Switch at the chart's top left: absolute or per 10,000 inhabitants.",
        "district_lead": "{state} · {population} inhabitants (Census 2022)",
        "member_of": "Part of",
        "over_time": "Indicators over time ({programme})",
        "totals_table": "Totals ({programme})",
        "deliveries": "Deliveries",
        "indicator": "Indicator",
        "status": "Status",
        "attainment": "Attainment",
        "per_10k": "per 10,000 inh.",
        "quarter": "Quarter",
        "file": "File",
        "received": "Received",
        "rows_read": "read",
        "accepted": "accepted",
        "rejected": "rejected",
        "late": "late",
        "corrected": "corrections",
        "report": "Quality report",
        "open_report": "open report",
        "no_deliveries": "No deliveries received.",
        "comparison_only": "Comparison district: delivers survey rows only, for the impact evaluation.",
        "state": "State",
        "progress_title": "Progress per quarter against the pro-rata target",
        "progress_note": "Cumulative quarterly values per district; the dashed line is the target pro rata to the "
                         "time elapsed. A district above it is on track.",
        "rejections_note": "Counted per finding: a row with two errors counts twice, a file set aside whole once.",
        "unassigned": "not assigned",
        "masked_note": "“< {threshold}”: fewer than {threshold} persons (privacy); hatched bars show the upper "
                       "bound only.",
        "quality_lead": "Which deliveries came on time, late or not at all, and which rows were rejected for "
                        "what reason, with links to the deliveries' quality reports.",
        "reporting_rate": "Reporting rate per district and quarter",
        "reporting_rate_value": "Reporting rate: {on_time} on time, {late} late, {missing} missing of {n} expected deliveries",
        "rejections_by_reason": "Rejected rows by reason",
        "rejections_table": "Rejected rows per district and reason",
        "reason": "Reason",
        "count": "Count",
        "no_rejections": "No rejected rows.",
        "set_aside_files": "Files set aside",
        "unassigned_report": "Report on files that could not be assigned",
        "deadline": "Deadline",
        "legend": "Legend",
        "methods_lead": "How each figure comes about: definition, target and source of every indicator, "
                        "from the catalogue.",
        "definition": "Definition",
        "unit": "Unit",
        "direction": "Direction",
        "default_target": "Target (default)",
        "overrides": "Other targets",
        "applies_to": "Applies to",
        "all_programmes": "all programmes",
        "references": "Reference",
        "reach_method": "Reach: unique, sum or mixed",
        "reach_method_text": "Where a district delivers attendance lists with pseudonyms, each person counts once "
                             "(method “unique”). Where only head counts are reported, they are added up (“sum”); "
                             "a person may then count more than once. “Mixed”: both in one figure. Pseudonyms "
                             "are per district; the programme row adds the districts up.",
        "status_rules": "Status of a target",
        "status_rules_text": "achieved: value ≥ target · on track: value ≥ target × share of the period reported · "
                             "behind: below that · for maximum targets: within or exceeded. A finished programme "
                             "has the share 1.",
        "privacy_rules": "Privacy",
        "privacy_rules_text": "On these pages and in the slides every count of persons below {threshold} (persons, "
                              "clients advised, survey responses, survey case numbers) is shown as “< {threshold}”; "
                              "so are shares and per-10,000 figures of such counts. The evaluators' exports keep "
                              "the exact values.",
        "sources": "Data sources",
        "source_population": "Population: {source}, as of {date}. Statistische Ämter des Bundes und der Länder, "
                             "Zensus 2022; Datenlizenz Deutschland – Namensnennung – Version 2.0 (dl-de/by-2-0).",
        "source_deliveries": "Indicator values: the districts' quarterly deliveries (events, attendance, advice, "
                             "newsletters, micro-projects, survey) under the delivery contract.",
        "source_geo": "District boundaries: {name} (file configured by the operator).",
        "source_geo_none": "District boundaries: no file configured (environment variable TEILHABE_GEOJSON).",
        "parameters": "Parameters",
        "programme_sources": "Programmes: from the programme descriptions ({sources}).",
        "catalogue_file": "Catalogue",
        "at_least": "at least",
        "at_most": "at most",
        "no_target": "no target",
        "yes": "yes",
        "no": "no",
        "page_programme": "Programme: {name}",
        "page_district": "District: {name}",
        "nav_impact": "Impact",
        "impact_programme_link": "Impact (survey before and after, against comparison districts)",
        "impact_programme_link_text": "estimates with intervals and what they mean",
        "impact_title": "Impact: survey before and after, against comparison districts",
        "impact_lead": "Do people in the programme districts feel more at home, do they take part more than they "
                       "would have without the programme? The survey before and after, compared with districts "
                       "without the programme, gives a careful answer – with honest uncertainty.",
        "impact_how_to_read": "How to read this page",
        "impact_how_to_read_text": "Each estimate comes with its 95 % interval: the range the data are compatible "
                                   "with. If the interval excludes zero, a difference is statistically supported; if "
                                   "it includes zero, it is not shown – which does not mean there is no effect. What "
                                   "counts is the difference-in-differences over all programme districts and all "
                                   "respondents; groups and single districts rest on fewer responses.",
        "impact_none": "No survey data yet: the impact estimate needs responses from the baseline and the "
                       "follow-up survey (feed “survey”). Once they are delivered and processed, the results "
                       "appear here.",
        "impact_programmes_without": "No survey data (no impact estimate): {names}.",
        "impact_programme_districts": "{n} programme districts",
        "impact_programme_districts_one": "{n} programme district",
        "impact_comparison_districts": "{n} comparison districts",
        "impact_comparison_districts_one": "{n} comparison district",
        "impact_to_programme": "programme page",
        "impact_glance": "At a glance: all programme districts, all respondents",
        "impact_glance_pre_post": "At a glance: change before → after, all respondents",
        "impact_no_comparison": "This programme has no comparison districts: only the change before → after is "
                                "shown, not an impact.",
        "impact_item": "Item",
        "impact_change_programme": "Change, programme districts",
        "impact_change_comparison": "Change, comparison districts",
        "impact_did": "Difference (impact estimate)",
        "impact_change": "Change",
        "impact_interval": "95 % interval",
        "impact_p": "p-value",
        "impact_n": "Responses (before / after)",
        "impact_assessment": "Assessment",
        "impact_readings": "In words",
        "impact_forest_title": "Estimates with 95 % intervals",
        "impact_forest_did": "Difference-in-differences: programme districts against comparison districts",
        "impact_forest_pre_post": "Change before → after",
        "impact_forest_note": "Dot: estimate (points on the 1–5 scale), line: 95 % interval, vertical line: no "
                              "difference. Open circles and dotted lines: indicative only (fewer than 30 responses in "
                              "a cell, or a single programme or comparison district). An arrow ◀ ▶ at the edge: the "
                              "interval reaches further; “unbounded” means the data do not bound it on that side at "
                              "all (typical with a single programme district). Single districts are each compared "
                              "with the whole comparison pool.",
        "impact_unbounded_note": "At least one interval is unbounded: with so few districts the uncertainty cannot "
                                 "be narrowed down on at least one side. The point estimate alone is then no result.",
        "impact_trends_title": "Means per wave and group",
        "impact_trends_note": "Mean (scale 1–5, 5 = strongest) per wave with 95 % interval, for all programme "
                              "districts together (●, solid) and all comparison districts together (◇, dashed). "
                              "Where the lines drift apart, the programme districts developed differently from the "
                              "comparison districts. Different people answer in each wave.",
        "impact_all_readings": "All results in words",
        "impact_all_readings_note": "Every row of the estimation as a sentence, with its limits. Click to expand.",
        "impact_readings_did": "Difference-in-differences ({n} results)",
        "impact_readings_pre_post": "Before/after ({n} results)",
        "impact_common_limit": "For every result in this list: {text}",
        "impact_districts_elsewhere": "{n} programme districts: here are the results of all districts together "
                                      "and per group of respondents; each district's results are on its own page "
                                      "(section “Impact”).",
        "impact_district_title": "Impact (survey) – {programme}",
        "impact_district_note": "This district's results in words. The programme as a whole:",
        "micro_overview_title": "Micro-project fund per district: amount granted against the fund",
        "micro_overview_note": "{n} districts with a fund: one bar per district, sorted by amount granted; tick: the "
                               "district's fund; red and crossed: fund exceeded. On hover: the number of projects and "
                               "how many are above the cap per project.",
        "micro_projects_n": "{n} projects, {over} above the cap",
        "bars_sorted_note": "Many districts: bars across, sorted by value (largest on top).",
        "rate_summary_note": "{n} districts: one row per district; every delivery with its quality report is on the "
                             "district's page.",
        "rate_on_time_share": "on time (share)",
        "latest_report": "latest report",
        "rejections_summary_note": "Per district the rejected rows by reason, with the report of the delivery with the "
                                   "most rejections; every rejected row is in the report of its delivery.",
        "top_delivery": "most rejections",
        "impact_baseline": "before",
        "impact_follow_up": "after",
        "impact_programme_pool": "Programme districts",
        "impact_comparison_pool": "Comparison districts",
        "impact_estimate": "Estimate",
        "impact_supported": "difference supported",
        "impact_not_supported": "not shown",
        "impact_indicative": "indicative only",
        "impact_withheld": "not published",
        "impact_withheld_short": "not published (< {threshold})",
        "impact_unbounded": "unbounded",
        "impact_unbounded_below": "unbounded below, up to {hi}",
        "impact_unbounded_above": "from {lo}, unbounded above",
        "impact_beyond": "reaches {value}",
        "impact_reliable": "Estimate with 95 % interval",
        "impact_arrow": "interval reaches further",
        "impact_points": "points (scale 1–5)",
        "impact_method": "How it is estimated",
        "impact_method_text": [
            "Before/after: per programme, district and group the mean of each wave with a 95 % interval, and the "
            "change after − before with a Welch interval (different people answer in each wave). A change is not "
            "an impact: it includes whatever would have happened without the programme.",
            "Difference-in-differences: how much more the mean changed in the programme districts than in the "
            "comparison districts – estimated on individual responses with district fixed effects, pooled over all "
            "programme districts and for each programme district against all comparison districts.",
            "Uncertainty: responses from one district hang together, and there are few districts. Hence a "
            "district-clustered restricted wild cluster bootstrap with Webb weights; the interval is the set of "
            "values this test does not reject, so it always agrees with the p-value. In simulations like lzz-2 "
            "(6 + 4 districts) it covered the true value in about 94 % of cases.",
            "Honesty rules: cells with fewer than {threshold} responses are never published (nor derivable from "
            "sums); fewer than 30 responses in a cell, or a single programme or comparison district, means "
            "“indicative only”. Only survey items get an impact estimate, never counts such as events or "
            "newsletters.",
        ],
        "impact_limits": "Limits",
        "impact_limits_text": [
            "Few districts: the uncertainty about the impact comes from comparing districts, not persons. With a "
            "single programme district the intervals are very wide or unbounded, and an event in that district "
            "cannot be told apart from the programme.",
            "Parallel development: the estimate assumes programme and comparison districts would have developed "
            "alike without the programme. With two waves this cannot be tested; programme districts applied and "
            "were not assigned at random.",
            "Different respondents per wave: it is not a panel. If the mix of respondents changes, the means move "
            "without any effect; the groups show this.",
            "Self-selection: respondents select themselves. The results hold for those who answered, not for all "
            "inhabitants.",
            "Many comparisons: with many items, groups and districts, single “supported” differences are to be "
            "expected without any effect (about 1 in 20). What counts is the row of all programme districts and "
            "respondents.",
        ],
    },
}

# The start page groups statuses: met (achieved / within), on track, missed (behind / exceeded).
STATUS_GROUP = {
    "de": {"met": "erreicht bzw. eingehalten", "on_track": "im Plan", "missed": "im Rückstand bzw. überschritten"},
    "en": {"met": "achieved or within", "on_track": "on track", "missed": "behind or exceeded"},
}

STATUS = {
    "de": {"achieved": "erreicht", "on_track": "im Plan", "behind": "im Rückstand",
           "within": "eingehalten", "exceeded": "überschritten", None: "kein Zielwert"},
    "en": {"achieved": "achieved", "on_track": "on track", "behind": "behind",
           "within": "within", "exceeded": "exceeded", None: "no target"},
}

DELIVERY_STATUS = {
    "de": {"on_time": "pünktlich", "late": "verspätet", "missing": "fehlt", "open": "Frist läuft",
           "extra": "geliefert (nicht erwartet)"},
    "en": {"on_time": "on time", "late": "late", "missing": "missing", "open": "deadline open",
           "extra": "delivered (not expected)"},
}

METHOD = {
    "de": {"unique": "eindeutig", "sum": "Summe", "mixed": "gemischt"},
    "en": {"unique": "unique", "sum": "sum", "mixed": "mixed"},
}

UNIT = {
    "de": {"events": "Veranstaltungen", "persons": "Personen", "clients": "Beratene", "sessions": "Beratungen",
           "issues": "Ausgaben", "projects": "Projekte", "eur": "EUR", "responses": "Antworten",
           "score": "Mittelwert (1–5)"},
    "en": {"events": "events", "persons": "persons", "clients": "clients", "sessions": "sessions",
           "issues": "issues", "projects": "projects", "eur": "EUR", "responses": "responses",
           "score": "mean (1–5)"},
}

# The contract's reason codes (deliveries.md section 5), short enough for a chart legend.
REASON = {
    "de": {"bad_filename": "Dateiname", "unknown_district": "unbekannter Kreis", "unknown_feed": "unbekannte Lieferart",
           "unreadable": "unlesbar", "too_large": "zu groß", "forbidden_column": "verbotene Spalte (Personendaten)",
           "missing_column": "Pflichtspalte fehlt", "bad_value": "Wert unlesbar", "bad_enum": "unbekannter Wert",
           "out_of_range": "außerhalb des Bereichs", "inconsistent_counts": "Teilzahl über Gesamtzahl",
           "duplicate_id": "Kennung doppelt", "future_date": "Datum nach Quartalsende",
           "outside_programme": "außerhalb der Programmlaufzeit", "unknown_event": "unbekannte Veranstaltung",
           "bad_pseudonym": "ungültiges Pseudonym"},
    "en": {"bad_filename": "file name", "unknown_district": "unknown district", "unknown_feed": "unknown feed",
           "unreadable": "unreadable", "too_large": "too large", "forbidden_column": "forbidden column (personal data)",
           "missing_column": "required column missing", "bad_value": "unreadable value", "bad_enum": "unknown value",
           "out_of_range": "out of range", "inconsistent_counts": "sub-count above total",
           "duplicate_id": "duplicate id", "future_date": "dated after quarter end",
           "outside_programme": "outside programme period", "unknown_event": "unknown event",
           "bad_pseudonym": "invalid pseudonym"},
}


def t(lang: str, key: str, **values) -> str:
    text = TEXT[lang][key]
    return text.format(**values) if values else text


def other(lang: str) -> str:
    return "en" if lang == "de" else "de"


def is_missing(value) -> bool:
    return value is None or (isinstance(value, Real) and math.isnan(value))


def number(value, lang: str, decimals: int | None = None) -> str:
    """`1234.5` -> `1.234,5` (de) / `1,234.5` (en). Without `decimals`, whole numbers show none
    and others one decimal, as people read counts and rates."""
    if is_missing(value):
        return "–"
    value = float(value)
    if decimals is None:
        decimals = 0 if value == int(value) else (1 if abs(value) >= 10 else 2)
    return f"{value:,.{decimals}f}".translate(_SEPARATOR_SWAP[lang])


def percent(value, lang: str, decimals: int = 0) -> str:
    if is_missing(value):
        return "–"
    # German puts a (narrow) space before the percent sign, English does not.
    return number(value, lang, decimals) + ("\u202f%" if lang == "de" else "%")


def date(value, lang: str) -> str:
    """`15.03.2024` (de) / `15 Mar 2024` (en: unambiguous for readers on both sides of the Atlantic)."""
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        value = dt.date.fromisoformat(str(value)[:10])
    if lang == "de":
        return value.strftime("%d.%m.%Y")
    return f"{value.day} {MONTHS_EN[value.month - 1]} {value.year}"


def period(start: dt.date, end: dt.date, lang: str) -> str:
    return f"{date(start, lang)} – {date(end, lang)}"


def label(row, lang: str, field: str = "label") -> str:
    """The catalogue's own label in the page language (`label_de` / `label_en`, `name_de` / ...)."""
    return str(row[f"{field}_{lang}"] if isinstance(row, dict) else getattr(row, f"{field}_{lang}"))
