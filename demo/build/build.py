#!/usr/bin/env python3
"""Generate the newsflow offline demo data (demo/sites, demo/feeds, demo/manifest.json).

Kept beside the data so it can be regenerated (the output is committed). Usage:
    python demo/build/build.py demo ../shared/seeds
"""

from __future__ import annotations

import html
import json
import re
import sys
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

import lxml.html

sys.path.insert(0, str(Path(__file__).parent))
import articles as A  # noqa: E402

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "demo")
SEEDS = Path(sys.argv[2] if len(sys.argv) > 2 else "../shared/seeds")

esc = lambda s: html.escape(s, quote=False)  # noqa: E731
attr = lambda s: html.escape(s, quote=True)  # noqa: E731

# --------------------------------------------------------------------------- seeds
seed1_raw = (SEEDS / "000_5158934509886b21.txt").read_text(encoding="utf-8")
seed2_raw = (SEEDS / "002_892e853b522700a9.txt").read_text(encoding="utf-8")

seed1_blocks = [b.strip() for b in seed1_raw.split("\n\n") if b.strip()]
cut = next(i for i, b in enumerate(seed1_blocks) if b.startswith("News Summary Repeat"))
SEED1_PARAS = seed1_blocks[:cut]
assert len(SEED1_PARAS) == 18, len(SEED1_PARAS)

# residue lines at the seam of the two seed files; the file keeps a backslash in (3\')
SEED_RESIDUE = [
    "News Summary Repeat (3') - DC",
    "Titre Aval",
    "Science Weekly",
    "Share your story",
    "Send your Videos and Photos to us• National",
]
tail = "\n".join(seed1_blocks[cut:]).replace("\\'", "'")
joined_tail = tail + seed2_raw.split("\n", 1)[0]
for line in SEED_RESIDUE[:-1]:
    assert line in tail, line
assert joined_tail.endswith(SEED_RESIDUE[-1]), joined_tail[-60:]

seed2_blocks = [b for b in seed2_raw.split("\n\n")][1:]  # drop "• National"
seed2_raw_blocks = [b.strip("\n").removeprefix("    ") for b in seed2_blocks if b.strip()]
SEED2_HEADLINE = seed2_raw_blocks[0].strip()
SEED2_RAW_PARAS = seed2_raw_blocks[1:]  # may keep a trailing no-break space, as in the seed
SEED2_PARAS = [p.strip() for p in SEED2_RAW_PARAS]
assert SEED2_HEADLINE == "Tehran's ‘Strategic Partnership’ With Moscow to Solve Syria Crisis"
assert "Valuable Relationship" in SEED2_PARAS

# --------------------------------------------------------------------------- publishers
SITES = {
    "iranintl": dict(domain="iranintl.example", name="Iran Intl", lang="en",
                     own_residue=["Watch: Evening Bulletin at 8pm", "Subscribe to our newsletter",
                                  "Follow Iran Intl on Telegram"]),
    "presstv": dict(domain="presstv.example", name="PressTV", lang="en",
                    own_residue=["Share your story", "Follow Press TV on Telegram"]),
    "worldwire": dict(domain="worldwire.example", name="WorldWire", lang="en",
                      own_residue=["Sign up for the WorldWire Morning Digest",
                                   "Our Standards: The WorldWire Trust Principles."]),
    "dailyledger": dict(domain="dailyledger.example", name="The Daily Ledger", lang="en",
                        own_residue=["Listen to this article",
                                     "Subscribe to The Daily Ledger newsletter",
                                     "Market data delayed by at least 15 minutes."]),
    "metrotimes": dict(domain="metrotimes.example", name="Metro Times", lang="en",
                       own_residue=["Got a story? Contact the Metro Times newsdesk",
                                    "Download the Metro Times app"]),
    "tagesblick": dict(domain="tagesblick.example", name="Tagesblick", lang="de",
                       own_residue=["Folgen Sie Tagesblick auf Telegram",
                                    "Jetzt den Tagesblick-Newsletter abonnieren"]),
    "elfaro": dict(domain="elfaro.example", name="El Faro Diario", lang="es",
                   own_residue=["Síguenos en Telegram y WhatsApp",
                                "Suscríbete a nuestro boletín diario"]),
}


def R(text, kind="plain", **kw):
    """A residue line placed inside the article container."""
    return dict(res=text, kind=kind, **kw)


def weave(paras, inserts):
    """paras: list of str | ("h2", str); inserts: {index: [R,...]} inserted before paras[index]
    (index == len(paras) -> after the last paragraph)."""
    out = []
    for i in range(len(paras) + 1):
        for r in inserts.get(i, []):
            out.append(r)
        if i < len(paras):
            p = paras[i]
            out.append(dict(h2=p[1]) if isinstance(p, tuple) else dict(p=p))
    return out


# --------------------------------------------------------------------------- pages
PAGES = []


def page(**kw):
    PAGES.append(kw)
    return kw


S1_TITLE = "Iran’s Envoy Says NATO Expansion Not In Interest Of Tehran, Moscow"
s1 = page(
    id="iranintl-nato-envoy", site="iranintl", path="/en/202611160417.html",
    title=S1_TITLE,
    description="Iran’s ambassador to Russia says NATO expansion is not in the interest of Tehran and Moscow and urges closer cooperation with the Kremlin.",
    author="Iran Intl Newsroom", published="2026-11-16T07:40:00+00:00", section="Iran",
    topics=["politics", "diplomacy", "international relations", "war in Ukraine"],
    entities=["Iran", "Russia", "NATO", "Ukraine", "United States", "Kazem Jalali", "Vladimir Putin",
              "Jamaran News", "Turkey", "Ali Khamenei", "Ruhollah Khomeini", "Elaheh Koulai",
              "Nord Stream", "China", "Tehran", "Moscow"],
    blocks=weave(SEED1_PARAS, {0: [R("Watch: Evening Bulletin at 8pm", "promo")],
                               6: [R("Subscribe to our newsletter", "cta")],
                               18: [R("Follow Iran Intl on Telegram", "cta")]}),
    source_seed="000_5158934509886b21.txt",
)

rial = page(
    id="iranintl-rial", site="iranintl", path="/en/202611161522.html",
    title="Iran’s rial slides to record low as sanctions and inflation bite",
    description="The Iranian rial fell to a new record low against the US dollar in Tehran’s open market, pushing up prices of imported goods.",
    author="Iran Intl Newsroom", published="2026-11-16T14:30:00+00:00", section="Economy",
    topics=["economy", "currency", "inflation", "sanctions"],
    entities=["Iran", "Tehran", "United States", "Central Bank of Iran", "Statistical Centre of Iran",
              "China", "International Monetary Fund", "Dubai", "United Arab Emirates"],
    blocks=weave(A.RIAL, {0: [R("Watch: Evening Bulletin at 8pm", "promo")],
                          4: [R("Subscribe to our newsletter", "cta")],
                          8: [R("Follow Iran Intl on Telegram", "cta")]}),
)

quake = page(
    id="iranintl-hormozgan-quake", site="iranintl", path="/en/202611180233.html",
    title="Magnitude 5.9 earthquake strikes southern Iran, damaging villages in Hormozgan",
    description="A magnitude 5.9 earthquake damaged hundreds of homes in Iran’s Hormozgan province and injured at least 46 people.",
    author="Iran Intl Newsroom", published="2026-11-18T05:10:00+00:00", section="Iran",
    topics=["disaster", "earthquake"],
    entities=["Iran", "Hormozgan", "Bandar Abbas", "Iranian Seismological Centre", "University of Tehran",
              "United States Geological Survey", "Iranian Red Crescent Society", "Bam", "Kerman"],
    blocks=weave(A.QUAKE, {3: [R("Subscribe to our newsletter", "cta")],
                           8: [R("Follow Iran Intl on Telegram", "cta")]}),
)

s2 = page(
    id="presstv-strategic-partnership", site="presstv",
    path="/Detail/2026/11/17/734512/Iran-Russia-strategic-partnership-Syria.html",
    title=SEED2_HEADLINE,
    description="Iran works with Russia in a “strategic partnership” based on mutual interests but not in an “alliance”, says Iran’s point man on the Middle East.",
    author="Press TV Staff", published="2026-11-17T10:20:00+03:30", section="Iran",
    topics=["politics", "diplomacy", "international relations", "Syria conflict"],
    entities=["Iran", "Russia", "Syria", "Turkey", "China", "Hossein Jaberi Ansari", "Press TV",
              "Bashar al-Assad", "Damascus", "Moscow", "Tehran"],
    blocks=[
        R(SEED_RESIDUE[0], "onair"), R(SEED_RESIDUE[1], "onair"), R(SEED_RESIDUE[2], "onair"),
        R(SEED_RESIDUE[3], "ugc"), R(SEED_RESIDUE[4], "ugclink", link="Send your Videos and Photos to us", rest="• National"),
        dict(h1=SEED2_HEADLINE),
    ] + [
        (dict(h2=raw) if raw.strip() == "Valuable Relationship" else dict(p=raw)) for raw in SEED2_RAW_PARAS
    ] + [R("Follow Press TV on Telegram", "ugc")],
    source_seed="002_892e853b522700a9.txt",
)

opec = page(
    id="presstv-opec-cuts", site="presstv", path="/Detail/2026/11/16/734488/Oil-prices-OPEC-extend-output-cuts.html",
    title="Oil prices rise after OPEC+ agrees to extend output cuts into next year",
    description="Brent and WTI crude gained about 2 percent after OPEC+ producers agreed to keep voluntary output cuts in place until the end of March.",
    author="Press TV Staff", published="2026-11-16T12:05:00+03:30", section="Economy",
    topics=["economy", "energy", "oil", "markets"],
    entities=["OPEC", "OPEC+", "Russia", "Saudi Arabia", "Iraq", "United Arab Emirates", "Kuwait",
              "Kazakhstan", "Algeria", "Oman", "Iran", "China", "United States", "Brazil", "Guyana",
              "International Energy Agency", "International Monetary Fund", "Helena Marsh"],
    blocks=[R("Share your story", "ugc"),
            R("Send your Videos and Photos to us• Economy", "ugclink", link="Send your Videos and Photos to us", rest="• Economy"),
            dict(h1="Oil prices rise after OPEC+ agrees to extend output cuts into next year")]
    + weave(A.OPEC, {9: [R("Follow Press TV on Telegram", "ugc")]}),
)

climate = page(
    id="presstv-un-climate-deal", site="presstv", path="/Detail/2026/11/21/734790/UN-climate-talks-adaptation-finance-deal.html",
    title="UN climate talks end with deal on adaptation finance after overnight session",
    description="Nearly 200 countries agreed to triple adaptation finance for developing nations by 2035 at the close of the UN climate conference.",
    author="Press TV Staff", published="2026-11-21T16:40:00+03:30", section="World",
    topics=["environment", "climate change", "diplomacy"],
    entities=["United Nations", "European Union", "United Kingdom", "China", "India", "Iran",
              "Paris Agreement", "World Meteorological Organization", "COP28", "Dubai"],
    blocks=[R("Share your story", "ugc"),
            R("Send your Videos and Photos to us• Environment", "ugclink", link="Send your Videos and Photos to us", rest="• Environment"),
            dict(h1="UN climate talks end with deal on adaptation finance after overnight session")]
    + weave(A.CLIMATE, {5: [R("Science Weekly", "onair")],
                        9: [R("Follow Press TV on Telegram", "ugc")]}),
)

# syndicated copy of seed 1: new headline, two paragraphs dropped, three lightly edited
s1c_paras = list(SEED1_PARAS)
s1c_paras[0] = ("MOSCOW (WorldWire) - Iran's ambassador to Russia has said NATO's expansion is not in the "
                "interest of Tehran and Moscow, and that there is a global synergy against Western “unilateralism.”")
assert s1c_paras[4].startswith("Turkey, a NATO member") and s1c_paras[7].startswith("Judging by the history")
s1c_paras[9] = s1c_paras[9].replace("Jalali went on to say", "The ambassador went on to say")
s1c_paras[17] = s1c_paras[17].replace("invariably support Ukraine and condemn the government pro-Russia policies",
                                      "support Ukraine and condemn the government’s pro-Russia policies")
assert "government’s pro-Russia" in s1c_paras[17] and "ambassador went on" in s1c_paras[9]
del s1c_paras[7]
del s1c_paras[4]
assert len(s1c_paras) == 16

s1c = page(
    id="worldwire-iran-nato-copy", site="worldwire",
    path="/world/middle-east/tehran-moscow-nato-expansion-iran-ambassador-2026-11-16.html",
    title="Tehran and Moscow both oppose NATO expansion, Iran’s ambassador says",
    description="Iran’s ambassador in Moscow says neither Tehran nor Moscow sees NATO expanding to their borders as in their interest.",
    author="WorldWire staff", published="2026-11-16T11:05:00Z", section="Middle East",
    topics=["politics", "diplomacy", "international relations", "war in Ukraine"],
    entities=["Iran", "Russia", "NATO", "Ukraine", "United States", "Kazem Jalali", "Vladimir Putin",
              "Jamaran News", "Ali Khamenei", "Ruhollah Khomeini", "Elaheh Koulai", "China", "Tehran", "Moscow"],
    blocks=weave(s1c_paras, {
        4: [R("Read more: NATO to reinforce Baltic air policing after airspace violations", "readmore",
              prefix="Read more: ", link="NATO to reinforce Baltic air policing after airspace violations",
              href="/world/europe/nato-baltic-air-policing-reinforced-2026-11-19.html")],
        9: [R("Sign up for the WorldWire Morning Digest", "cta")],
        16: [R("(Reporting by the WorldWire Moscow bureau; Editing by Clara Haynes)", "credit"),
             R("Our Standards: The WorldWire Trust Principles.", "standards")],
    }),
    duplicate_of="iranintl-nato-envoy",
)

tennis = page(
    id="worldwire-vienna-tennis", site="worldwire", path="/sports/tennis/brenner-beats-ruiz-vienna-final-2026-11-15.html",
    title="Brenner edges Ruiz in three sets to win Vienna indoor title",
    description="Austria’s Lukas Brenner saved two championship points to beat Spain’s Mateo Ruiz in the Vienna final.",
    author="WorldWire staff", published="2026-11-15T17:50:00Z", section="Sports",
    topics=["sports", "tennis"],
    entities=["Lukas Brenner", "Mateo Ruiz", "Austria", "Spain", "Vienna", "ATP", "Valencia", "Turin"],
    blocks=weave(A.TENNIS, {3: [R("Sign up for the WorldWire Morning Digest", "cta")],
                            7: [R("(Reporting by Anna Gruber; Editing by Tom Whitfield)", "credit"),
                                R("Our Standards: The WorldWire Trust Principles.", "standards")]}),
)

measles = page(
    id="worldwire-measles-europe", site="worldwire", path="/health/measles-cases-surge-europe-who-unicef-2026-11-17.html",
    title="Measles cases surge across Europe as vaccination rates slip, WHO and UNICEF say",
    description="More than 89,000 measles infections were reported in the WHO European Region in the first ten months of the year.",
    author="WorldWire staff", published="2026-11-17T09:00:00Z", section="Health",
    topics=["health", "vaccination", "infectious disease"],
    entities=["World Health Organization", "UNICEF", "United Nations", "Romania", "Kazakhstan", "Azerbaijan",
              "Austria", "Belgium", "Ireland", "United Kingdom", "European Centre for Disease Prevention and Control",
              "European Union", "Copenhagen", "Geneva"],
    blocks=weave(A.MEASLES, {
        4: [R("Read more: Brenner edges Ruiz in three sets to win Vienna indoor title", "readmore",
              prefix="Read more: ", link="Brenner edges Ruiz in three sets to win Vienna indoor title",
              href="/sports/tennis/brenner-beats-ruiz-vienna-final-2026-11-15.html")],
        5: [R("Sign up for the WorldWire Morning Digest", "cta")],
        8: [R("(Reporting by Sofie Lund in Copenhagen; Editing by Clara Haynes)", "credit"),
            R("Our Standards: The WorldWire Trust Principles.", "standards")]}),
)

nato = page(
    id="worldwire-nato-baltic", site="worldwire", path="/world/europe/nato-baltic-air-policing-reinforced-2026-11-19.html",
    title="NATO to reinforce Baltic air policing after airspace violations",
    description="NATO defence ministers agreed to add fighter jets and radars to the Baltic air-policing mission after incidents blamed on Russia.",
    author="WorldWire staff", published="2026-11-19T16:20:00Z", section="Europe",
    topics=["politics", "defence", "security", "war in Ukraine"],
    entities=["NATO", "Russia", "Estonia", "Latvia", "Lithuania", "Germany", "Netherlands", "Sweden", "Finland",
              "Ukraine", "European Union", "Brussels", "The Hague", "Ingrid Saar"],
    blocks=weave(A.NATO, {5: [R("Sign up for the WorldWire Morning Digest", "cta")],
                          9: [R("(Reporting by Pieter de Vries in Brussels; Editing by Tom Whitfield)", "credit")]}),
)

ecb = page(
    id="dailyledger-ecb-hold", site="dailyledger", path="/markets/2026/11/19/ecb-holds-rates-steady-signals-patience.html",
    title="ECB holds interest rates steady, signals patience as inflation nears target",
    description="The European Central Bank kept its deposit rate at 2.00 percent for a fourth straight meeting as euro area inflation hovers near target.",
    author="Marta Kowalski", published="2026-11-19T12:40:00Z", section="Markets",
    topics=["economy", "central banks", "interest rates", "inflation", "markets"],
    entities=["European Central Bank", "Eurostat", "Frankfurt", "Germany", "United States", "China",
              "Federal Reserve", "Bank of England", "Johanna Weiss", "euro area"],
    blocks=weave(A.ECB, {0: [R("Listen to this article", "listen")],
                         5: [R("Subscribe to The Daily Ledger newsletter", "cta")],
                         10: [R("Market data delayed by at least 15 minutes.", "note")]}),
)

battery = page(
    id="dailyledger-solid-state-battery", site="dailyledger", path="/technology/2026/11/18/solid-state-battery-fast-charging-study.html",
    title="Solid-state battery cell charges to 80% in 12 minutes, researchers report",
    description="Researchers in Japan and Germany report a solid-state lithium-metal cell that fast-charges and keeps 91% capacity after 1,000 cycles.",
    author="Priya Raman", published="2026-11-18T15:00:00Z", section="Technology",
    topics=["science", "technology", "batteries", "electric vehicles"],
    entities=["Japan", "Germany", "Toyota", "Volkswagen", "BMW", "European Union", "Horizon Europe",
              "Aiko Tanaka", "Martin Feld", "China"],
    blocks=weave(A.BATTERY, {0: [R("Listen to this article", "listen")],
                             5: [R("Subscribe to The Daily Ledger newsletter", "cta")]}),
)

ecb_copy = page(
    id="metrotimes-ecb-copy", site="metrotimes", path="/news/business/eurozone-rates-unchanged-ecb-20261119.html",
    title="Eurozone rates unchanged as ECB says inflation close to goal",
    description="The ECB kept rates on hold for the fourth meeting running, saying inflation is close to its 2 percent target.",
    author="Metro Times Business Desk", published="2026-11-19T14:55:00Z", section="Business",
    topics=["economy", "central banks", "interest rates", "inflation", "markets"],
    entities=["European Central Bank", "Eurostat", "Frankfurt", "Germany", "United States", "China", "euro area"],
    blocks=weave(A.ECB_COPY, {1: [R("Photo: ECB headquarters in Frankfurt. Metro Times/Archive", "credit")],
                              8: [R("Got a story? Contact the Metro Times newsdesk", "cta"),
                                  R("Download the Metro Times app", "cta")]}),
    duplicate_of="dailyledger-ecb-hold",
)

football = page(
    id="metrotimes-harbour-city-eastfield", site="metrotimes", path="/sport/football/harbour-city-2-1-eastfield-rovers-20261121.html",
    title="Harbour City come from behind to beat Eastfield Rovers 2-1 with late penalty",
    description="Captain Daniel Okafor scored a stoppage-time penalty after a VAR review as Harbour City beat Eastfield Rovers.",
    author="Jamie Collins", published="2026-11-21T17:30:00Z", section="Sport",
    topics=["sports", "football"],
    entities=["Harbour City", "Eastfield Rovers", "Daniel Okafor", "Kofi Mensah", "Tomás Varga", "Ruth Calloway",
              "Alan Brody", "Claire Dawson", "Quayside Stadium", "UEFA Champions League", "Westbrook"],
    blocks=weave(A.FOOTBALL, {1: [R("Photo: Kofi Mensah celebrates his equaliser. Metro Times/Lee Harper", "credit")],
                              6: [R("Download the Metro Times app", "cta")],
                              10: [R("Got a story? Contact the Metro Times newsdesk", "cta")]}),
)

election = page(
    id="metrotimes-bulgaria-election", site="metrotimes", path="/news/world/bulgaria-snap-election-centre-right-leads-20261116.html",
    title="Centre-right bloc leads Bulgaria’s snap election but faces difficult coalition talks",
    description="Bulgaria’s centre-right bloc won the most votes in the country’s eighth election since 2021 but fell short of a majority.",
    author="Metro Times World Desk", published="2026-11-16T06:00:00Z", section="World",
    topics=["politics", "elections"],
    entities=["Bulgaria", "Sofia", "National Assembly", "Central Election Commission", "European Union", "NATO",
              "Organization for Security and Co-operation in Europe", "Elena Petrova", "Russia"],
    blocks=weave(A.ELECTION, {4: [R("Got a story? Contact the Metro Times newsdesk", "cta")],
                              9: [R("Download the Metro Times app", "cta")]}),
)

rhein = page(
    id="tagesblick-rhein-niedrigwasser", site="tagesblick", path="/wirtschaft/niedrigwasser-rhein-binnenschifffahrt-100.html",
    title="Niedrigwasser am Rhein: Binnenschiffe können nur noch ein Drittel laden",
    description="Der Pegel Kaub ist auf 48 Zentimeter gefallen. Binnenschiffe fahren mit stark reduzierter Ladung, die Transportkosten steigen.",
    author="Katrin Albers", published="2026-11-17T10:00:00+01:00", section="Wirtschaft",
    topics=["environment", "climate change", "drought", "shipping", "economy"],
    entities=["Rhein", "Kaub", "Bundesverband der Deutschen Binnenschiffahrt", "Ludwigshafen",
              "Wasserstraßen- und Schifffahrtsverwaltung des Bundes", "Deutscher Wetterdienst",
              "Bundesanstalt für Gewässerkunde", "Koblenz", "Mainz", "St. Goar", "Alpen", "Deutschland"],
    blocks=weave(A.RHEIN, {0: [R("Folgen Sie Tagesblick auf Telegram", "cta")],
                           3: [R("Lesen Sie auch: Geldautomaten gesprengt: Landgericht verurteilt Bande zu langen Haftstrafen",
                                 "readmore", prefix="Lesen Sie auch: ",
                                 link="Geldautomaten gesprengt: Landgericht verurteilt Bande zu langen Haftstrafen",
                                 href="/panorama/geldautomaten-sprengungen-urteil-osnabrueck-102.html")],
                           9: [R("Jetzt den Tagesblick-Newsletter abonnieren", "cta")]}),
)

automaten = page(
    id="tagesblick-geldautomaten-urteil", site="tagesblick", path="/panorama/geldautomaten-sprengungen-urteil-osnabrueck-102.html",
    title="Geldautomaten gesprengt: Landgericht verurteilt Bande zu langen Haftstrafen",
    description="Das Landgericht Osnabrück hat fünf Männer wegen 17 Geldautomatensprengungen zu Haftstrafen zwischen fünf und elf Jahren verurteilt.",
    author="Jonas Reinhardt", published="2026-11-19T15:30:00+01:00", section="Panorama",
    topics=["crime", "justice", "courts"],
    entities=["Landgericht Osnabrück", "Nordrhein-Westfalen", "Niedersachsen", "Niederlande", "Europol",
              "Bundesgerichtshof", "Bundeskriminalamt", "Emsland", "Deutschland"],
    blocks=weave(A.AUTOMATEN, {0: [R("Folgen Sie Tagesblick auf Telegram", "cta")],
                               7: [R("Foto: Tagesblick/Archiv", "credit"),
                                   R("Jetzt den Tagesblick-Newsletter abonnieren", "cta")]}),
)

temporal = page(
    id="elfaro-temporal-galicia", site="elfaro", path="/galicia/2026/11/18/temporal-galicia-hogares-sin-luz.html",
    title="Un temporal de lluvia y viento deja sin luz a más de 60.000 hogares en Galicia",
    description="La borrasca Ofelia obliga a cortar carreteras, suspender clases y desalojar a unas 300 personas en la provincia de A Coruña.",
    author="Lucía Otero", published="2026-11-18T08:30:00+01:00", section="Galicia",
    topics=["disaster", "weather", "storm"],
    entities=["Galicia", "Xunta de Galicia", "A Coruña", "Lugo", "Aemet", "Cabo Vilán", "Santiago de Compostela",
              "Betanzos", "Pontedeume", "Adif", "Ferrol", "Unidad Militar de Emergencias", "España"],
    blocks=weave(A.TEMPORAL, {0: [R("Foto: Árboles caídos en Betanzos. El Faro/M. Castro", "credit")],
                              4: [R("Síguenos en Telegram y WhatsApp", "cta")],
                              8: [R("Suscríbete a nuestro boletín diario", "cta")]}),
)

BY_ID = {p["id"]: p for p in PAGES}
for p in PAGES:
    p["url"] = f"http://{SITES[p['site']]['domain']}{p['path']}"
    p["file"] = f"sites/{SITES[p['site']]['domain']}{p['path']}"


# --------------------------------------------------------------------------- rendering helpers
def fmt_date(p, style):
    d = datetime.fromisoformat(p["published"].replace("Z", "+00:00"))
    if style == "en":
        return d.strftime("%b %d, %Y, %H:%M GMT").replace(" 0", " ")
    if style == "de":
        months = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
                  "Oktober", "November", "Dezember"]
        return f"{d.day}. {months[d.month - 1]} {d.year}, {d:%H:%M} Uhr"
    if style == "es":
        months = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
                  "octubre", "noviembre", "diciembre"]
        return f"{d.day} de {months[d.month - 1]} de {d.year} - {d:%H:%M}"
    return d.strftime("%a %b %d, %Y %I:%M%p")


def head(p, extra=""):
    s = SITES[p["site"]]
    d = datetime.fromisoformat(p["published"].replace("Z", "+00:00"))
    locale = {"en": "en_US", "de": "de_DE", "es": "es_ES"}[s["lang"]]
    return f"""<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(p['title'])} | {esc(s['name'])}</title>
<meta name="description" content="{attr(p['description'])}">
<meta name="author" content="{attr(p['author'])}">
<link rel="canonical" href="{attr(p['url'])}">
<meta property="og:type" content="article">
<meta property="og:title" content="{attr(p['title'])}">
<meta property="og:description" content="{attr(p['description'])}">
<meta property="og:url" content="{attr(p['url'])}">
<meta property="og:site_name" content="{attr(s['name'])}">
<meta property="og:locale" content="{locale}">
<meta property="og:image" content="http://{s['domain']}/media/{p['id']}.jpg">
<meta property="article:published_time" content="{d.isoformat()}">
<meta property="article:section" content="{attr(p['section'])}">
<meta name="twitter:card" content="summary_large_image">
<link rel="stylesheet" href="/static/css/main.css">
<link rel="icon" href="/favicon.ico">
{extra}<script async src="/static/js/analytics.js"></script>
</head>"""


def jsonld(p):
    s = SITES[p["site"]]
    data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": p["title"],
            "datePublished": datetime.fromisoformat(p["published"].replace("Z", "+00:00")).isoformat(),
            "author": {"@type": "Person" if " " in p["author"] and "Staff" not in p["author"] and "Desk" not in p["author"] and "staff" not in p["author"] and "Newsroom" not in p["author"] else "Organization", "name": p["author"]},
            "publisher": {"@type": "Organization", "name": s["name"]},
            "mainEntityOfPage": p["url"], "inLanguage": s["lang"]}
    return '<script type="application/ld+json">' + json.dumps(data, ensure_ascii=False) + "</script>\n"


def related(p, n=4):
    same = [q for q in PAGES if q["site"] == p["site"] and q is not p][:n]
    return [(q["url"].split(SITES[q["site"]]["domain"], 1)[1], q["title"]) for q in same]


def render_blocks(p, cls):
    """cls: per-site CSS classes for the residue kinds."""
    out = []
    for b in p["blocks"]:
        if "p" in b:
            out.append(f"<p>{esc(b['p'])}</p>")
        elif "h2" in b:
            out.append(f"<h2>{esc(b['h2'])}</h2>")
        elif "h1" in b:
            out.append(f'<h1 class="{cls.get("h1", "headline")}">{esc(b["h1"])}</h1>')
            if "after_h1" in cls:
                out.append(cls["after_h1"](p))
        else:
            k = b["kind"]
            c = cls.get(k, cls["default"])
            if k == "ugclink":
                out.append(f'<p class="{c}"><a href="/Ugc/Upload">{esc(b["link"])}</a><span>{esc(b["rest"])}</span></p>')
            elif k == "readmore":
                out.append(f'<p class="{c}"><strong>{esc(b["prefix"].strip())}</strong> <a href="{attr(b["href"])}">{esc(b["link"])}</a></p>')
            elif k == "cta" and "cta_href" in cls:
                out.append(f'<p class="{c}"><a href="{cls["cta_href"]}">{esc(b["res"])}</a></p>')
            else:
                out.append(f'<p class="{c}">{esc(b["res"])}</p>')
    return "\n".join(out)


def ul(items):
    return "<ul>\n" + "\n".join(f'<li><a href="{attr(h)}">{esc(t)}</a></li>' for h, t in items) + "\n</ul>"


def share_links(p, names=("Facebook", "X", "Telegram", "WhatsApp", "Email")):
    u = attr(p["url"])
    hrefs = {"Facebook": f"https://www.facebook.com/sharer/sharer.php?u={u}",
             "X": f"https://x.com/intent/post?url={u}", "Telegram": f"https://t.me/share/url?url={u}",
             "WhatsApp": f"https://wa.me/?text={u}", "Email": f"mailto:?subject=Article&amp;body={u}",
             "LinkedIn": f"https://www.linkedin.com/sharing/share-offsite/?url={u}",
             "Copy link": "#copy"}
    return "\n".join(f'<a href="{hrefs[n]}" rel="nofollow noopener" title="Share on {n}">{n}</a>' for n in names)


# --------------------------------------------------------------------------- templates
def tpl_iranintl(p):
    nav = [("/en/iran", "Iran"), ("/en/world", "World"), ("/en/economy", "Economy"), ("/en/opinion", "Opinion"),
           ("/en/video", "Video"), ("/en/live", "Live TV"), ("/en/podcasts", "Podcasts")]
    cls = {"default": "inline-promo", "promo": "programme-promo", "cta": "inline-cta"}
    return f"""<!DOCTYPE html>
<html lang="en" dir="ltr">
{head(p)}
<body class="page-article section-{p['section'].lower()}">
<div id="cookie-consent" class="cookie-consent" role="dialog" aria-label="Cookie consent">
<p>We use cookies and similar technologies to personalise content, provide social media features and analyse our traffic. You can change your preferences at any time.</p>
<a href="/en/privacy-policy">Privacy policy</a> <button type="button">Accept all</button> <button type="button">Manage preferences</button>
</div>
<header class="site-header">
<a class="logo" href="/en">{SITES['iranintl']['name']}</a>
<nav class="main-nav" aria-label="Main">
{ul(nav)}
</nav>
<a class="live-btn" href="/en/live">Watch live</a>
</header>
<main id="main">
<article class="news-article">
<div class="category-label"><a href="/en/{p['section'].lower()}">{esc(p['section'])}</a></div>
<h1 class="article-title">{esc(p['title'])}</h1>
<div class="article-meta"><span class="author-name">{esc(p['author'])}</span> <time datetime="{p['published']}">{fmt_date(p, 'en')}</time></div>
<figure class="lead-image"><img src="/media/{p['id']}.jpg" alt="" width="1200" height="675"></figure>
<div class="share-tools" aria-label="Share">
{share_links(p)}
</div>
<div class="article-body">
{render_blocks(p, cls)}
</div>
</article>
<aside class="related-articles">
<h2>Related</h2>
{ul(related(p))}
</aside>
<section id="comments" class="comments-teaser">
<h3>Comments (12)</h3>
<p>Join the conversation. Log in to read and post comments.</p>
<a href="/en/login?next={attr(p['path'])}">Show comments</a>
</section>
</main>
<footer class="site-footer">
<ul><li><a href="/en/about">About us</a></li><li><a href="/en/contact">Contact</a></li><li><a href="/en/privacy-policy">Privacy policy</a></li><li><a href="/en/terms">Terms of use</a></li></ul>
<p>© 2026 {SITES['iranintl']['name']}. All rights reserved.</p>
</footer>
</body>
</html>
"""


def tpl_presstv(p):
    nav = [("/Section/Iran", "Iran"), ("/Section/West-Asia", "West Asia"), ("/Section/Economy", "Economy"),
           ("/Section/World", "World"), ("/Section/Sport", "Sport"), ("/Programs", "Programs"), ("/Live", "Live")]
    cls = {"default": "ugc-callout", "onair": "onair-item", "ugc": "ugc-callout", "ugclink": "ugc-callout",
           "h1": "news-title",
           "after_h1": lambda q: f'<div class="news-timestamp"><time datetime="{q["published"]}">{fmt_date(q, "tv")}</time></div>'}
    return f"""<!DOCTYPE html>
<html lang="en">
{head(p, jsonld(p))}
<body>
<div class="container-fluid">
<div class="topbar-wrap"><nav class="navbar" role="navigation">
<a class="brand" href="/">{SITES['presstv']['name']}</a>
{ul(nav)}
</nav></div>
<div id="cookieNotice" class="cookie-notice">
<p>This website uses cookies to ensure you get the best experience on our website. By continuing to browse you agree to our use of cookies.</p>
<button type="button" class="btn-accept">Got it</button>
</div>
<div class="row page-row">
<div class="col-md-8 col-main">
<div class="breadcrumb-trail"><a href="/">Home</a> › <a href="/Section/{p['section']}">{esc(p['section'])}</a></div>
<div class="news-story" itemprop="articleBody">
{render_blocks(p, cls)}
</div>
<div class="share-bar">
{share_links(p, ("Facebook", "X", "Telegram", "Email"))}
</div>
<div class="related-news">
<h3>Related News</h3>
{ul(related(p))}
</div>
<div id="comments" class="comment-section">
<h3>Comments</h3>
<p>Press TV does not necessarily endorse the views expressed in the comments. <a href="/Comments/{p['id']}">Add your comment</a></p>
</div>
</div>
<aside class="col-md-4 sidebar">
<h3>Most Viewed</h3>
{ul([(q['path'], q['title']) for q in PAGES if q['site'] == 'presstv'])}
</aside>
</div>
<footer class="page-footer">
<ul><li><a href="/Page/About">About Press TV</a></li><li><a href="/Page/Contact">Contact Us</a></li><li><a href="/Page/Privacy">Privacy Policy</a></li></ul>
<p>All Rights Reserved © 2026 {SITES['presstv']['name']}</p>
</footer>
</div>
</body>
</html>
"""


def tpl_worldwire(p):
    nav = [("/world/", "World"), ("/business/", "Business"), ("/markets/", "Markets"), ("/sports/", "Sports"),
           ("/health/", "Health"), ("/technology/", "Technology"), ("/investigations/", "Investigations")]
    cls = {"default": "wire-note", "cta": "digest-signup", "credit": "wire-credit", "standards": "wire-standards",
           "readmore": "wire-readmore", "cta_href": "/digest/signup"}
    return f"""<!DOCTYPE html>
<html lang="en">
{head(p, jsonld(p))}
<body>
<div class="consent-layer" id="cookie-consent-layer">
<p>We and our partners use cookies to store and access information on your device. Select “Accept” to consent or “Reject” to decline non-essential cookies.</p>
<button type="button">Accept</button><button type="button">Reject</button><a href="/privacy/cookies">Cookie settings</a>
</div>
<div class="page">
<div class="masthead">
<a class="wordmark" href="/">{SITES['worldwire']['name']}</a>
<nav aria-label="Sections" class="section-nav">
{ul(nav)}
</nav>
<a class="subscribe-cta" href="/subscribe">Subscribe</a>
</div>
<main>
<article class="story">
<header class="story-header">
<a class="story-section" href="/{p['path'].split('/')[1]}/">{esc(p['section'])}</a>
<h1>{esc(p['title'])}</h1>
<div class="byline">By {esc(p['author'])} · <time datetime="{p['published']}">{fmt_date(p, 'en')}</time></div>
</header>
<div class="share-rail">
{share_links(p, ("X", "Facebook", "LinkedIn", "Email", "Copy link"))}
</div>
<div class="story-body">
{render_blocks(p, cls)}
</div>
</article>
<section class="more-on-topic">
<h2>Related stories</h2>
{ul(related(p))}
</section>
<div class="comments-teaser" id="comments">
<p>Comments are closed for this story. <a href="/community-guidelines">Community guidelines</a></p>
</div>
</main>
<footer class="site-footer">
<p>All quotes delayed a minimum of 15 minutes.</p>
<ul><li><a href="/about/">About WorldWire</a></li><li><a href="/careers/">Careers</a></li><li><a href="/terms/">Terms of Use</a></li><li><a href="/privacy/">Privacy</a></li></ul>
<p>© 2026 WorldWire. All rights reserved.</p>
</footer>
</div>
</body>
</html>
"""


def tpl_dailyledger(p):
    nav = [("/markets/", "Markets"), ("/economy/", "Economy"), ("/companies/", "Companies"), ("/technology/", "Technology"),
           ("/opinion/", "Opinion"), ("/newsletters/", "Newsletters")]
    cls = {"default": "dl-inline", "listen": "dl-listen", "cta": "dl-signup", "note": "dl-disclaimer"}
    n = 48211 + PAGES.index(p)
    return f"""<!DOCTYPE html>
<html lang="en-GB">
{head(p, '<meta name="generator" content="WordPress 6.6.2">' + chr(10))}
<body class="post-template-default single single-post postid-{n} single-format-standard">
<div id="cookie-law-info-bar" class="cli-bar-container" role="dialog">
<span>The Daily Ledger uses cookies to remember your settings, show personalised ads and measure readership. </span>
<a role="button" class="cli_action_button">ACCEPT</a> <a href="/cookie-policy/">Read more</a>
</div>
<div id="page" class="site">
<header id="masthead" class="site-header">
<div class="site-branding"><p class="site-title"><a href="/" rel="home">{SITES['dailyledger']['name']}</a></p></div>
<nav id="site-navigation" class="main-navigation">
{ul(nav)}
</nav>
</header>
<div id="content" class="site-content">
<div id="primary" class="content-area">
<main id="main" class="site-main">
<article id="post-{n}" class="post-{n} post type-post status-publish format-standard hentry category-{p['section'].lower()}">
<header class="entry-header">
<h1 class="entry-title">{esc(p['title'])}</h1>
<div class="entry-meta"><span class="byline">By <a class="url fn n" href="/author/{p['author'].lower().replace(' ', '-')}/">{esc(p['author'])}</a></span> <span class="posted-on"><time class="entry-date published" datetime="{p['published']}">{fmt_date(p, 'en')}</time></span></div>
</header>
<div class="entry-content">
{render_blocks(p, cls)}
</div>
<footer class="entry-footer"><span class="cat-links">Posted in <a href="/{p['section'].lower()}/">{esc(p['section'])}</a></span></footer>
</article>
<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Share this:</h3>
{share_links(p, ("X", "LinkedIn", "Facebook", "Email"))}
</div>
<div id="jp-relatedposts" class="jp-relatedposts">
<h3 class="jp-relatedposts-headline">Related</h3>
{ul(related(p) + [('/markets/2026/11/12/bund-yields-week-ahead/', 'Bund yields edge higher ahead of ECB meeting')])}
</div>
<div id="comments" class="comments-area">
<h2 class="comments-title">7 thoughts on “{esc(p['title'])}”</h2>
<p><a href="#respond">Leave a comment</a></p>
</div>
</main>
</div>
<aside id="secondary" class="widget-area">
<section class="widget widget_recent_entries"><h2 class="widget-title">Most read</h2>
{ul([(q['path'], q['title']) for q in PAGES if q['site'] == 'dailyledger'])}
</section>
</aside>
</div>
<footer id="colophon" class="site-footer">
<div class="site-info">© 2026 {SITES['dailyledger']['name']} · <a href="/privacy-policy/">Privacy Policy</a> · <a href="/terms/">Terms</a> · Proudly powered by WordPress</div>
</footer>
</div>
</body>
</html>
"""


def tpl_metrotimes(p):
    nav = [("/news/", "News"), ("/news/world/", "World"), ("/news/business/", "Business"), ("/sport/", "Sport"),
           ("/culture/", "Culture"), ("/weather/", "Weather")]
    cls = {"default": "mt-inline", "cta": "mt-inline", "credit": "mt-photo-credit"}
    return f"""<!DOCTYPE html>
<html lang="en-GB">
{head(p)}
<body class="mt-article">
<div id="mt-consent" class="mt-cookie-popup" role="dialog">
<h2>Your privacy</h2>
<p>We use cookies to give you the best online experience and to show relevant adverts. Please let us know if you agree to all of these cookies.</p>
<button type="button">Yes, I agree</button> <a href="/privacy/">Show me the options</a>
</div>
<div class="mt-wrapper">
<div class="mt-topstrip"><a class="mt-logo" href="/">{SITES['metrotimes']['name']}</a>
<nav class="mt-nav">
{ul(nav)}
</nav></div>
<div class="mt-headline-block">
<span class="mt-kicker">{esc(p['section'])}</span>
<h1>{esc(p['title'])}</h1>
<p class="mt-standfirst">{esc(p['description'])}</p>
<p class="mt-byline-date">By {esc(p['author'])} | <time datetime="{p['published']}">{fmt_date(p, 'en')}</time></p>
</div>
<section class="article-text">
{render_blocks(p, cls)}
</section>
<div class="mt-share-row">
<span>Share this article</span>
{share_links(p, ("Facebook", "X", "WhatsApp", "Email"))}
</div>
<div class="mt-more-stories">
<h2>More stories</h2>
{ul(related(p))}
</div>
<div class="comments-cta" id="comments-cta">
<p>Have your say: <a href="/comments/{p['id']}">View comments (23)</a></p>
</div>
<footer class="mt-footer">
<ul><li><a href="/contact/">Contact us</a></li><li><a href="/advertise/">Advertise</a></li><li><a href="/privacy/">Privacy notice</a></li><li><a href="/terms/">Terms and conditions</a></li></ul>
<p>© Metro Times Media Ltd 2026</p>
</footer>
</div>
</body>
</html>
"""


def tpl_tagesblick(p):
    nav = [("/politik/", "Politik"), ("/wirtschaft/", "Wirtschaft"), ("/panorama/", "Panorama"), ("/sport/", "Sport"),
           ("/wissen/", "Wissen"), ("/regional/", "Regional")]
    cls = {"default": "tb-hinweis", "cta": "tb-hinweis", "credit": "tb-bildnachweis", "readmore": "tb-lesetipp"}
    return f"""<!DOCTYPE html>
<html lang="de">
{head(p, jsonld(p))}
<body>
<div class="cookie-hinweis" id="cookie-box">
<p>Wir verwenden Cookies und ähnliche Technologien, um Inhalte zu personalisieren und Zugriffe zu analysieren. Mit „Zustimmen“ akzeptieren Sie die Verarbeitung.</p>
<button type="button">Zustimmen</button> <button type="button">Einstellungen</button> <a href="/datenschutz/">Datenschutz</a>
</div>
<header class="kopfbereich">
<a class="logo" href="/">{SITES['tagesblick']['name']}</a>
<nav class="hauptnavigation" aria-label="Hauptnavigation">
{ul(nav)}
</nav>
</header>
<main id="inhalt">
<div class="artikel" id="artikel">
<p class="dachzeile">{esc(p['section'])}</p>
<h1 class="artikel-titel">{esc(p['title'])}</h1>
<p class="artikel-autor">Von {esc(p['author'])} | Stand: <time datetime="{p['published']}">{fmt_date(p, 'de')}</time></p>
<div class="teilen-leiste share-buttons">
{share_links(p, ("Facebook", "X", "WhatsApp", "Email"))}
</div>
<div class="artikel-text" itemprop="articleBody">
{render_blocks(p, cls)}
</div>
</div>
<aside class="weitere-artikel related">
<h2>Das könnte Sie auch interessieren</h2>
{ul(related(p))}
</aside>
<section class="kommentare" id="comments">
<h2>Kommentare</h2>
<p>Die Kommentarfunktion für diesen Artikel ist geschlossen. <a href="/netiquette/">Netiquette</a></p>
</section>
</main>
<footer class="fussbereich">
<ul><li><a href="/impressum/">Impressum</a></li><li><a href="/datenschutz/">Datenschutz</a></li><li><a href="/kontakt/">Kontakt</a></li></ul>
<p>© Tagesblick Verlag 2026</p>
</footer>
</body>
</html>
"""


def tpl_elfaro(p):
    nav = [("/galicia/", "Galicia"), ("/espana/", "España"), ("/internacional/", "Internacional"),
           ("/economia/", "Economía"), ("/deportes/", "Deportes"), ("/opinion/", "Opinión")]
    cls = {"default": "nota-cuerpo", "cta": "nota-cuerpo", "credit": "pie-foto"}
    return f"""<!DOCTYPE html>
<html lang="es">
{head(p, jsonld(p))}
<body class="noticia-detalle">
<div id="aviso-cookies" class="aviso-cookies" role="dialog">
<p>Utilizamos cookies propias y de terceros para mejorar nuestros servicios y mostrarle publicidad relacionada con sus preferencias. Si continúa navegando, consideramos que acepta su uso.</p>
<button type="button">Aceptar</button> <a href="/politica-de-cookies/">Más información</a>
</div>
<header class="cabecera">
<a class="logo" href="/">{SITES['elfaro']['name']}</a>
<nav class="menu-principal">
{ul(nav)}
</nav>
</header>
<main>
<article class="noticia">
<p class="antetitulo">{esc(p['section'])}</p>
<h1 class="titular">{esc(p['title'])}</h1>
<p class="entradilla">{esc(p['description'])}</p>
<div class="firma"><span class="autor">{esc(p['author'])}</span> <time datetime="{p['published']}">{fmt_date(p, 'es')}</time></div>
<div class="compartir share-buttons">
{share_links(p, ("Facebook", "X", "WhatsApp", "Telegram"))}
</div>
<div class="cuerpo-noticia" itemprop="articleBody">
{render_blocks(p, cls)}
</div>
</article>
<section class="relacionadas related-news">
<h2>Noticias relacionadas</h2>
{ul(related(p) + [('/galicia/2026/11/17/aviso-rojo-costa-coruna.html', 'Aviso rojo en la costa de A Coruña por olas de hasta nueve metros')])}
</section>
<section class="comentarios" id="comments">
<h2>Comentarios</h2>
<p>Para comentar debe estar registrado. <a href="/registro/">Regístrese</a></p>
</section>
</main>
<footer class="pie">
<ul><li><a href="/aviso-legal/">Aviso legal</a></li><li><a href="/privacidad/">Privacidad</a></li><li><a href="/contacto/">Contacto</a></li></ul>
<p>© El Faro Diario 2026</p>
</footer>
</body>
</html>
"""


TEMPLATES = {"iranintl": tpl_iranintl, "presstv": tpl_presstv, "worldwire": tpl_worldwire,
             "dailyledger": tpl_dailyledger, "metrotimes": tpl_metrotimes, "tagesblick": tpl_tagesblick,
             "elfaro": tpl_elfaro}
CONTAINER = {
    "iranintl": "//div[@class='article-body']",
    "presstv": "//div[@itemprop='articleBody']",
    "worldwire": "//div[@class='story-body']",
    "dailyledger": "//div[@class='entry-content']",
    "metrotimes": "//section[@class='article-text']",
    "tagesblick": "//div[@class='artikel-text']",
    "elfaro": "//div[@itemprop='articleBody']",
}

# --------------------------------------------------------------------------- feeds
UTM = "?utm_source=rss&utm_medium=feed"
FEEDS = [
    dict(name="iranintl-atom", file="feeds/iranintl-atom.xml", kind="atom", site="iranintl",
         items=["iranintl-nato-envoy", "iranintl-rial", "iranintl-hormozgan-quake"]),
    dict(name="presstv-rss", file="feeds/presstv-rss.xml", kind="rss", site="presstv",
         items=["presstv-strategic-partnership", "presstv-opec-cuts", "presstv-un-climate-deal"]),
    dict(name="worldwire-rss", file="feeds/worldwire-rss.xml", kind="rss", site="worldwire",
         items=["worldwire-iran-nato-copy", "worldwire-vienna-tennis", "worldwire-measles-europe",
                "worldwire-nato-baltic", ("presstv-opec-cuts", UTM)]),
    dict(name="dailyledger-jsonfeed", file="feeds/dailyledger-feed.json", kind="jsonfeed", site="dailyledger",
         items=["dailyledger-ecb-hold", "dailyledger-solid-state-battery"]),
    dict(name="metrotimes-news-sitemap", file="feeds/metrotimes-news-sitemap.xml", kind="sitemap", site="metrotimes",
         items=["metrotimes-ecb-copy", "metrotimes-harbour-city-eastfield", "metrotimes-bulgaria-election"]),
    dict(name="tagesblick-rss", file="feeds/tagesblick-rss.xml", kind="rss", site="tagesblick",
         items=["tagesblick-rhein-niedrigwasser", "tagesblick-geldautomaten-urteil"]),
    dict(name="elfaro-atom", file="feeds/elfaro-atom.xml", kind="atom", site="elfaro",
         items=["elfaro-temporal-galicia"]),
]


def x(s):
    return html.escape(s, quote=True)


def dt(p):
    return datetime.fromisoformat(p["published"].replace("Z", "+00:00"))


def feed_items(f):
    for it in f["items"]:
        pid, suffix = (it if isinstance(it, tuple) else (it, ""))
        yield BY_ID[pid], BY_ID[pid]["url"] + suffix


def build_rss(f):
    s = SITES[f["site"]]
    items = []
    for p, link in feed_items(f):
        partner = p["site"] != f["site"]
        guid = (f'<guid isPermaLink="false">{f["site"]}-partner-{p["path"].split("/")[5]}</guid>' if partner
                else f'<guid isPermaLink="true">{x(p["url"])}</guid>')
        if f["site"] == "worldwire":
            author = f"<author>newsdesk@{s['domain']} ({x(p['author'])})</author>"
        else:
            author = f"<dc:creator>{x(p['author'])}</dc:creator>"
        cat = f"<category>{x(p['section'])}</category>"
        items.append(f"""    <item>
      <title>{x(p['title'])}</title>
      <link>{x(link)}</link>
      {guid}
      <pubDate>{format_datetime(dt(p))}</pubDate>
      {author}
      {cat}
      <description>{x(p['description'])}</description>
    </item>""")
    newest = max(dt(p) for p, _ in feed_items(f))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>{x(s['name'])}</title>
    <link>http://{s['domain']}/</link>
    <atom:link href="http://{s['domain']}/rss.xml" rel="self" type="application/rss+xml"/>
    <description>{x(s['name'])} – latest news</description>
    <language>{s['lang']}</language>
    <lastBuildDate>{format_datetime(newest)}</lastBuildDate>
    <ttl>15</ttl>
{chr(10).join(items)}
  </channel>
</rss>
"""


def build_atom(f):
    s = SITES[f["site"]]
    entries = []
    for p, link in feed_items(f):
        entries.append(f"""  <entry>
    <title>{x(p['title'])}</title>
    <link rel="alternate" type="text/html" href="{x(link)}"/>
    <id>tag:{s['domain']},2026:{p['id']}</id>
    <published>{dt(p).isoformat()}</published>
    <updated>{dt(p).isoformat()}</updated>
    <author><name>{x(p['author'])}</name></author>
    <category term="{x(p['section'])}"/>
    <summary type="text">{x(p['description'])}</summary>
  </entry>""")
    newest = max(dt(p) for p, _ in feed_items(f))
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{s['lang']}">
  <title>{x(s['name'])}</title>
  <subtitle>{x(s['name'])} – latest stories</subtitle>
  <link rel="alternate" type="text/html" href="http://{s['domain']}/"/>
  <link rel="self" type="application/atom+xml" href="http://{s['domain']}/feeds/atom.xml"/>
  <id>tag:{s['domain']},2026:feed</id>
  <updated>{newest.isoformat()}</updated>
{chr(10).join(entries)}
</feed>
"""


def build_jsonfeed(f):
    s = SITES[f["site"]]
    items = []
    for p, link in feed_items(f):
        items.append({"id": f"{s['domain']}/{p['id']}", "url": link, "title": p["title"],
                      "summary": p["description"], "date_published": dt(p).isoformat(),
                      "authors": [{"name": p["author"]}], "language": s["lang"], "tags": [p["section"]]})
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": s["name"],
            "home_page_url": f"http://{s['domain']}/", "feed_url": f"http://{s['domain']}/feed.json",
            "description": f"{s['name']} – markets, economy and technology", "language": s["lang"],
            "authors": [{"name": s["name"]}], "items": items}
    return json.dumps(feed, ensure_ascii=False, indent=2) + "\n"


def build_sitemap(f):
    s = SITES[f["site"]]
    urls = []
    for p, link in feed_items(f):
        urls.append(f"""  <url>
    <loc>{x(link)}</loc>
    <lastmod>{dt(p).isoformat()}</lastmod>
    <news:news>
      <news:publication>
        <news:name>{x(s['name'])}</news:name>
        <news:language>{s['lang']}</news:language>
      </news:publication>
      <news:publication_date>{dt(p).isoformat()}</news:publication_date>
      <news:title>{x(p['title'])}</news:title>
    </news:news>
    <image:image>
      <image:loc>http://{s['domain']}/media/{p['id']}.jpg</image:loc>
    </image:image>
  </url>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
{chr(10).join(urls)}
</urlset>
"""


BUILDERS = {"rss": build_rss, "atom": build_atom, "jsonfeed": build_jsonfeed, "sitemap": build_sitemap}


# --------------------------------------------------------------------------- write
def norm(s):
    return " ".join(s.split())


def main():
    for f in FEEDS:
        for p, link in feed_items(f):
            p.setdefault("feed_links", {})[f["name"]] = link

    pages_out = []
    for p in PAGES:
        doc = TEMPLATES[p["site"]](p)
        path = OUT / p["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc, encoding="utf-8")
        # verify what we wrote, from the markup itself
        tree = lxml.html.fromstring(doc.encode("utf-8"))
        cont = tree.xpath(CONTAINER[p["site"]])
        assert len(cont) == 1, (p["id"], len(cont))
        texts = [norm(e.text_content()) for e in cont[0].iter() if isinstance(e.tag, str)]
        residue = [b["res"] for b in p["blocks"] if "res" in b]
        paras = [b.get("p") or b.get("h2") for b in p["blocks"] if "p" in b or "h2" in b]
        paras = [q.strip() for q in paras]
        for line in residue + paras:
            assert norm(line) in texts, (p["id"], line)
        words = sum(len(q.split()) for q in paras)
        if not p.get("source_seed") and not p.get("duplicate_of"):
            assert 250 <= words <= 600, (p["id"], words)
        p["_words"] = words
        pages_out.append({
            "id": p["id"],
            "url": p["url"],
            "file": p["file"],
            "publisher": SITES[p["site"]]["domain"],
            "publisher_name": SITES[p["site"]]["name"],
            "feeds": sorted(p.get("feed_links", {})),
            "feed_links": p.get("feed_links", {}),
            "language": SITES[p["site"]]["lang"],
            "title": p["title"],
            "author": p["author"],
            "published": dt(p).isoformat(),
            "section": p["section"],
            "expected_topics": p["topics"],
            "expected_entities": p["entities"],
            "duplicate_of_url": BY_ID[p["duplicate_of"]]["url"] if p.get("duplicate_of") else None,
            "source_seed": p.get("source_seed"),
            "article_container_xpath": CONTAINER[p["site"]],
            "residue_lines": residue,
            "article_paragraphs": paras,
            "word_count": words,
        })
        assert p.get("feed_links"), p["id"]

    (OUT / "feeds").mkdir(parents=True, exist_ok=True)
    feeds_out = []
    for f in FEEDS:
        (OUT / f["file"]).write_text(BUILDERS[f["kind"]](f), encoding="utf-8")
        feeds_out.append({"name": f["name"], "file": f["file"], "kind": f["kind"],
                          "publisher": SITES[f["site"]]["domain"],
                          "links": [link for _, link in feed_items(f)]})

    manifest = {
        "schema": "newsflow-demo-manifest/1",
        "description": "Offline demo corpus: static publisher pages, the feeds that list them, and the "
                       "ground truth for extraction (paragraphs kept, residue lines dropped), dedup and tagging.",
        "url_to_file": "file = 'sites/' + host + path (query and fragment dropped); every page path ends in .html",
        "local_mirrors": {f"http://{s['domain']}/": f"sites/{s['domain']}/" for s in SITES.values()},
        "publishers": [{"domain": s["domain"], "name": s["name"], "language": s["lang"],
                        "repeated_residue_lines": s["own_residue"],
                        "article_container_xpath": CONTAINER[k]} for k, s in SITES.items()],
        "seed_residue_lines": SEED_RESIDUE,
        "feeds": feeds_out,
        "pages": pages_out,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for p in PAGES:
        print(f"{p['_words']:4d}  {p['id']}")


if __name__ == "__main__":
    main()
