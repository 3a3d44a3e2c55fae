"""The page shell: head, navigation, language switch, footer, tables and embedded figures.

Every link is relative, so the site works from a USB stick or a folder opened in the browser
(file://), and every page loads the one shared plotly.min.js from the site root.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field

import plotly.graph_objects as go

from dashboards import i18n

PLOTLY_JS = "plotly.min.js"
CSS_FILE = "site.css"
CONFIG = {"responsive": True, "displaylogo": False,
          # sendChartToCloud: a "share" button that posts to a server; the site is offline.
          "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "sendChartToCloud"],
          "toImageButtonOptions": {"format": "png", "scale": 2}}

CSS = """
:root{--ink:#1b1b1b;--muted:#555;--line:#d0d0d0;--accent:#0072B2;--bg:#fafafa}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg);line-height:1.45}
a{color:var(--accent)}
dd,code{overflow-wrap:anywhere;min-width:0}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
header{background:#fff;border-bottom:3px solid var(--accent);padding:.6rem 1.5rem;display:flex;flex-wrap:wrap;align-items:center;gap:.4rem 1.5rem}
header .brand{font-weight:700;font-size:1.1rem;color:var(--ink);text-decoration:none}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.2rem 1rem}
nav a{text-decoration:none;padding:.15rem 0}nav a[aria-current=page]{font-weight:700;border-bottom:2px solid var(--accent)}
header .lang{margin-left:auto;font-size:.95rem}
main{max-width:84rem;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.7rem;margin:.6rem 0 .3rem}h2{font-size:1.3rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
h3{font-size:1.05rem;margin:1.2rem 0 .3rem}
.lead{font-size:1.1rem;color:var(--muted);margin:.2rem 0 1rem}
.note{color:var(--muted);font-size:.92rem}
.chart{background:#fff;border:1px solid var(--line);border-radius:4px;margin:.6rem 0;min-height:200px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(34rem,100%),1fr));gap:0 1rem}
.grid>*{min-width:0;overflow:hidden}
table{border-collapse:collapse;background:#fff;margin:.5rem 0 1rem;font-size:.93rem}
th,td{border:1px solid var(--line);padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#eef3f8}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.wide{overflow-x:auto;max-width:100%}
.chip{display:inline-block;padding:.05rem .45rem;border-radius:3px;color:#000;white-space:nowrap;border:1px solid rgba(0,0,0,.25)}
.legend{display:flex;flex-wrap:wrap;gap:.4rem .8rem;margin:.3rem 0 .8rem;font-size:.92rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(22rem,100%),1fr));gap:1rem}
.card{background:#fff;border:1px solid var(--line);border-radius:4px;padding:.8rem 1rem}
.card h2{border:0;margin:.1rem 0 .4rem;font-size:1.15rem}
.card dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:0}.card dt{color:var(--muted)}.card dd{margin:0}
.verdict{font-weight:600}
.chart-scroll{overflow-x:auto;max-width:100%}.chart-scroll .chart{margin:0}
.chart-foot{display:flex;flex-wrap:wrap;align-items:center;gap:.3rem .6rem;font-size:.85rem;color:var(--muted);margin:-.3rem 0 .8rem}
.chart-foot .source{flex:1 1 16rem}.chart-foot button{font:inherit;padding:.15rem .6rem;border:1px solid var(--line);background:#fff;border-radius:3px;cursor:pointer;color:var(--accent)}
.chart-foot button:focus-visible{outline:3px solid var(--accent)}
.chart-foot .switch{display:inline-flex;gap:.2rem}.chart-foot button[aria-pressed=true]{background:var(--accent);color:#fff}
p.finding{font-weight:600;margin:.8rem 0 0}
.status-date{margin:.2rem 0 .4rem;font-size:1.05rem}
ul.headlines{margin:.2rem 0 .6rem;padding-left:1.2rem}ul.headlines li{margin:.15rem 0;max-width:62rem}
section.scorecard h2{margin-top:.6rem}
table.scorecard td,table.scorecard th{padding:.2rem .4rem}table.scorecard td a{text-decoration:none}
table.scorecard th{font-size:.85rem;min-width:6rem;max-width:10rem}
.sticky-first tr>:first-child{position:sticky;left:0;background:#fff;z-index:1;min-width:5rem}
.sticky-first thead tr>:first-child{background:#eef3f8}
td.cell{text-align:center;white-space:nowrap;min-width:2.2rem;font-weight:700}td.cell a{color:#000;text-decoration:none;display:block}
table.rate th{white-space:nowrap;font-size:.85rem}
.masked{font-style:italic}
table.impact td{vertical-align:middle}.nw{white-space:nowrap}table.impact .note{font-size:.82rem}
ul.readings{padding-left:1.2rem;margin:.3rem 0 1rem}ul.readings li{margin:.35rem 0;max-width:62rem}
ul.impact-list li{margin:.3rem 0;max-width:62rem}
details.readings{background:#fff;border:1px solid var(--line);border-radius:4px;padding:.4rem .9rem;margin:.5rem 0}
details.readings summary{cursor:pointer;font-weight:600}details.readings h4{margin:.8rem 0 .2rem}
h4{font-size:1rem;margin:1rem 0 .2rem}.impact-link{font-weight:600}
.ic-yes{background:#56B4E9}.ic-no{background:#E4E4E4}.ic-indicative{background:#F0E442}.ic-withheld{background:#fff;border-style:dashed}.ic-primary{background:#fff;border-color:#0072B2}
p.common{font-style:italic;color:var(--muted);margin:.4rem 0}
footer{max-width:84rem;margin:0 auto;padding:1rem 1.5rem 2rem;color:var(--muted);font-size:.88rem;border-top:1px solid var(--line)}
footer .downloads{display:block;margin-top:.4rem}
table.paths td:first-child{min-width:15rem}table.paths small{color:var(--muted);white-space:nowrap}
@media (max-width:40rem){header{padding:.4rem .8rem}nav ul{flex-wrap:nowrap;overflow-x:auto;max-width:100%;padding-bottom:.2rem}
nav li{white-space:nowrap}header nav{max-width:100%;order:3}main{padding:.6rem .8rem 2rem}h1{font-size:1.3rem}
h2{font-size:1.1rem;margin-top:1.2rem}table{font-size:.85rem}}
@media print{header nav,.lang{display:none}.chart{break-inside:avoid}}
"""


class Raw(str):
    """HTML that is already safe (built here), inserted without escaping."""


def esc(value) -> str:
    if type(value) is str:  # plain text, the common case (Raw is a str subclass, so not this)
        return html.escape(value)
    return value if isinstance(value, Raw) else html.escape("" if value is None else str(value))


@dataclass(frozen=True)
class Place:
    """Where a page sits: its path inside its language's root, and where that root is."""
    lang: str
    path: str              # e.g. "programm/lzz-1.html"
    lang_prefix: str = ""  # "" for the default language, "en/" for the other one

    @property
    def up(self) -> str:
        return "../" * (self.path.count("/") + self.lang_prefix.count("/"))

    def href(self, path: str) -> str:
        """A page of the same language."""
        return "../" * self.path.count("/") + path

    def asset(self, name: str) -> str:
        """A file at the site root (plotly.min.js, site.css, reports/)."""
        return self.up + name


@dataclass
class Body:
    """What a page function produces: its title, HTML parts and whether it holds a map."""
    title: str
    parts: list[str] = field(default_factory=list)
    has_map: bool = False
    figures: int = 0

    def add(self, text: str) -> None:
        self.parts.append(text)

    def figure(self, figure: go.Figure | dict, div_id: str, label: str, min_width: int | None = None) -> None:
        self.parts.append(figure_html(figure, div_id, label, min_width))
        self.figures += 1


# A chart may carry, in its layout's `meta.narrow`, what changes on a narrow screen (a phone): a
# legend inside the plot that covers the lines on 390 px moves below it, say. Applied once, when
# the chart is drawn, from the width of its box.
NARROW_PX = 600
NARROW_JS = (f'var n=s.layout.meta&&s.layout.meta.narrow;if(n&&d.offsetWidth<{NARROW_PX})'
             '{for(var k in n){s.layout[k]=n[k];}d.style.height=s.layout.height+"px";}')


def figure_html(figure: go.Figure | dict, div_id: str, label: str, min_width: int | None = None) -> str:
    """A div and the one call that draws it, once the page is laid out (a chart drawn while its
    grid is still being parsed would take the full width). `</` is escaped so no label can end
    the script element. The div's text alternative states the chart's data in one sentence
    (`describe`). `min_width`: a chart that cannot be read narrower (the heat map's cells) keeps
    that width and scrolls inside its own box on a phone, never the page."""
    plain = figure if isinstance(figure, dict) else figure.to_plotly_json()
    spec = json.dumps({"data": plain["data"], "layout": plain["layout"]},
                      cls=_encoder(), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    spec = spec.replace("</", "<\\/")
    config = json.dumps(CONFIG, separators=(",", ":"), sort_keys=True)
    # The div carries the figure's height: on a window resize, responsive Plotly takes the
    # container's height, and a div without one would squash the chart.
    height = plain["layout"].get("height")
    css = (f"height:{int(height)}px;" if height else "") + (f"min-width:{int(min_width)}px;" if min_width else "")
    style = f' style="{css}"' if css else ""
    div = (f'<div id="{esc(div_id)}" class="chart" role="img" aria-label="{esc(describe(plain, label))}"{style}></div>')
    if min_width:
        div = f"<div class='chart-scroll' tabindex='0' aria-label='{esc(label)}'>{div}</div>"
    return (f'{div}\n'
            f'<script>document.addEventListener("DOMContentLoaded",function(){{var s={spec};'
            f'var d=document.getElementById("{esc(div_id)}");{NARROW_JS}'
            f'Plotly.newPlot(d,s.data,s.layout,{config});}});</script>')


def _decoded(values) -> list | None:
    """A trace's x or y as a list: plotly's typed-array form ({"dtype", "bdata"}) decoded."""
    if isinstance(values, dict) and "bdata" in values:
        import base64

        import numpy as np
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).tolist()
    if values is None or isinstance(values, str):
        return None
    return list(values.tolist() if hasattr(values, "tolist") else values)


def describe(plain: dict, label: str, most: int = 6) -> str:
    """One sentence for a screen reader: the title, then per series (up to two) its first values
    ("Goslar: 14; Harz: 9; …"). The language is the figure's own (its decimal separator)."""
    lang = "de" if str(plain["layout"].get("separators", ",.")).startswith(",") else "en"
    parts = []
    for trace in plain["data"]:
        if trace.get("visible") is False or trace.get("meta") == "hidden" or trace.get("type") == "heatmap":
            continue
        xs, ys = _decoded(trace.get("x")), _decoded(trace.get("y"))
        if trace.get("orientation") == "h":
            xs, ys = ys, xs
        if not xs or not ys:
            continue
        pairs = [(x, y) for x, y in zip(xs, ys) if isinstance(y, (int, float)) and y == y]
        if not pairs:
            continue
        shown = "; ".join(f"{_plain_text(x)}: {i18n.number(y, lang)}" for x, y in pairs[:most])
        more = f" … ({len(pairs)} {i18n.t(lang, 'values_word')})" if len(pairs) > most else ""
        name = _plain_text(trace.get("name") or "")
        parts.append(f"{name + ' – ' if name else ''}{shown}{more}")
        if len(parts) == 2:
            break
    return f"{label}. {' | '.join(parts)}" if parts else label


def _plain_text(value) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", str(value)).split())


def _encoder():
    from plotly.utils import PlotlyJSONEncoder
    return PlotlyJSONEncoder


def table(headers: list[str], rows: list[list], numeric: set[int] = frozenset(), cls: str = "") -> str:
    head = "".join(f"<th scope='col'>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f"<td class='n'>{esc(v)}</td>" if i in numeric else f"<td>{esc(v)}</td>"
                        for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    # The first column names the row: it stays in view while a wide table scrolls on a phone.
    return (f"<div class='wide'><table class='{(cls + ' sticky-first').strip()}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def chip(text: str, colour: str) -> Raw:
    return Raw(f"<span class='chip' style='background:{colour}'>{esc(text)}</span>")


NAV = (("index.html", "nav_start"), ("wirkung.html", "nav_impact"), ("datenqualitaet.html", "nav_quality"),
       ("methoden.html", "nav_methods"))


# Under every chart: its view switch as real buttons (Plotly's own menu is not reachable by Tab),
# its source and two buttons, to download its data (CSV, the page's separators) and its picture
# (PNG). Built once the page is loaded, from the drawn figure's own data; a
# hidden count (meta "hidden": the hatched "< 5" bars) is written as its label, never its bar.
TOOLS_JS = r"""(function(L){
function dec(v){if(v&&v.bdata){var b=atob(v.bdata),u=new Uint8Array(b.length);for(var i=0;i<b.length;i++)u[i]=b.charCodeAt(i);
var T={f8:Float64Array,f4:Float32Array,i1:Int8Array,u1:Uint8Array,i2:Int16Array,u2:Uint16Array,i4:Int32Array,u4:Uint32Array}[v.dtype];
return Array.prototype.slice.call(new T(u.buffer));}return v;}
function cell(v){if(v===null||v===undefined)return "";if(typeof v==="number")return String(v).replace(".",L.decimal);
v=String(v).replace(/<[^>]+>/g," ").replace(/\s+/g," ").trim();return /[";,\n]/.test(v)?'"'+v.replace(/"/g,'""')+'"':v;}
function csv(gd){var rows=[[L.series,"x","y"]];(gd.data||[]).forEach(function(t){var name=t.name||"";if(t.visible===false)return;
if(t.type==="heatmap"){var z=t.text||dec(t.z)||[];(t.y||[]).forEach(function(yv,i){(t.x||[]).forEach(function(xv,j){rows.push([yv,xv,(z[i]||[])[j]]);});});return;}
var x=dec(t.x)||[],y=dec(t.y)||[];if(t.orientation==="h"){var s=x;x=y;y=s;}var hidden=t.meta==="hidden";
for(var i=0;i<Math.max(x.length,y.length);i++){var v=hidden?(t.text||[])[i]:y[i];if(hidden&&!v)continue;rows.push([name,x[i],v]);}});
return rows.map(function(r){return r.map(cell).join(L.sep);}).join("\r\n");}
function menus(d,f){((d.layout&&d.layout.updatemenus)||[]).forEach(function(m){var g=document.createElement("span");g.className="switch";
g.setAttribute("role","group");(m.buttons||[]).forEach(function(u,i){var b=document.createElement("button");b.type="button";b.textContent=u.label;
b.setAttribute("aria-pressed",String(i===(m.active||0)));b.addEventListener("click",function(){Plotly[u.method].apply(null,[d].concat(u.args));
g.querySelectorAll("button").forEach(function(o){o.setAttribute("aria-pressed",String(o===b));});});g.appendChild(b);});f.appendChild(g);});}
document.addEventListener("DOMContentLoaded",function(){setTimeout(function(){document.querySelectorAll(".chart").forEach(function(d){
var f=document.createElement("div");f.className="chart-foot";menus(d,f);var p=document.createElement("span");p.className="source";p.textContent=L.source;f.appendChild(p);
[["csv",L.csv],["png",L.png]].forEach(function(k){var b=document.createElement("button");b.type="button";b.textContent=k[1];
b.addEventListener("click",function(){if(k[0]==="png"){Plotly.downloadImage(d,{format:"png",filename:d.id,scale:2});return;}
var a=document.createElement("a");a.href="data:text/csv;charset=utf-8,"+encodeURIComponent("\ufeff"+csv(d));a.download=d.id+".csv";
document.body.appendChild(a);a.click();a.remove();});f.appendChild(b);});
var after=d.parentNode.classList.contains("chart-scroll")?d.parentNode:d;after.insertAdjacentElement("afterend",f);});},0);});
})"""


def _page_scripts(lang: str, source: str) -> str:
    """The chart tools in the page's language and, on German pages, Plotly's German locale."""
    decimal, _ = i18n.SEPARATORS[lang]
    words = {"csv": i18n.t(lang, "csv_button"), "png": i18n.t(lang, "png_button"), "series": i18n.t(lang, "series_word"),
             "source": source, "decimal": decimal, "sep": ";" if decimal == "," else ","}
    out = f"{TOOLS_JS}({json.dumps(words, ensure_ascii=False)});"
    if lang == "de":
        locale = {"moduleType": "locale", "name": "de", **i18n.PLOTLY_DE}
        out += f'Plotly.register({json.dumps(locale, ensure_ascii=False)});Plotly.setPlotConfig({{locale:"de"}});'
    return "<script>" + out.replace("</", "<\\/") + "</script>"


def page(place: Place, body: Body, programmes: list[tuple[str, str]], threshold: int, geo_stub: str | None,
         source: str = "") -> str:
    """The full document. `programmes`: (path, short label) for the navigation; `source`: the
    line under every chart."""
    lang, t = place.lang, (lambda key, **kw: i18n.t(place.lang, key, **kw))
    other = i18n.other(lang)
    if place.lang_prefix:   # we are the other language: the default one sits one folder up
        other_href = place.up + place.path
    else:
        other_href = f"{place.up}{other}/{place.path}"
    links = [(place.href(NAV[0][0]), t(NAV[0][1]), place.path == NAV[0][0])]
    links += [(place.href(path), name, place.path == path) for path, name in programmes]
    links += [(place.href(path), t(key), place.path == path) for path, key in NAV[1:]]
    nav = "".join(f"<li><a href='{esc(h)}'{' aria-current=page' if cur else ''}>{esc(n)}</a></li>"
                  for h, n, cur in links)
    scripts = ""
    if geo_stub:  # before plotly.min.js: plotly must find the world topojson stubbed, not fetch it
        scripts += f"<script>{geo_stub}</script>\n"
    scripts += f"<script src='{esc(place.asset(PLOTLY_JS))}' charset='utf-8'></script>"
    if body.figures:
        scripts += "\n" + _page_scripts(lang, source)
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(body.title)} – {esc(t('site_title'))}</title>
<link rel="stylesheet" href="{esc(place.asset(CSS_FILE))}">
<link rel="alternate" hreflang="{other}" href="{esc(other_href)}">
{scripts}
</head>
<body>
<a class="skip" href="#main">{esc(t('skip'))}</a>
<header>
<a class="brand" href="{esc(place.href('index.html'))}">{esc(t('site_title'))}</a>
<nav aria-label="{esc(t('nav_programmes'))}"><ul>{nav}</ul></nav>
<a class="lang" href="{esc(other_href)}" hreflang="{other}" lang="{other}">{esc(t('other_lang'))}</a>
</header>
<main id="main">
<h1>{esc(body.title)}</h1>
{chr(10).join(body.parts)}
</main>
<footer>{esc(t('footer', threshold=threshold))}
<span class="downloads">{esc(t('footer_data'))} <a href="{esc(place.asset('daten/kennzahlen.csv'))}" download>{esc(t('footer_values'))}</a>,
<a href="{esc(place.asset('daten/kennzahlen_aufschluesselungen.csv'))}" download>{esc(t('footer_breakdowns'))}</a></span></footer>
</body>
</html>
"""
