"""Word lists the people-and-organisation heuristic reads, folded (lower case, no accents but ñ).

They are grammar, not knowledge: titles that precede a name, verbs of speech
that follow or precede one, the words that head an organisation's name, and
the capitalised function words that start sentences in English, German,
French and Spanish.
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


TITLES = frozenset(
    _words(
        """
    president presidente presidenta presidentin prasident prasidentin
    chancellor kanzler kanzlerin bundeskanzler bundeskanzlerin chancelier chanceliere canciller
    minister ministerin ministre ministro ministra secretary senator governor gouverneur
    gobernador gobernadora mayor burgermeister burgermeisterin maire alcalde alcaldesa
    king queen prince princess konig konigin roi reine rey reina pope papst pape papa
    ayatollah sheikh emir general gen colonel col admiral commander
    ambassador botschafter botschafterin ambassadeur ambassadrice embajador embajadora envoy
    spokesman spokeswoman spokesperson sprecher sprecherin porte-parole portavoz
    judge richter richterin juge juez jueza dr mr mrs ms sir dame lord lady herr frau
    m mme mlle sr sra srta don doña prof professor professorin rep sen
    coach trainer trainerin entraineur entrenador entrenadora captain ceo chairman chairwoman
    aide adviser advisor leader chief premier
    manager referee striker winger midfielder defender goalkeeper forward
    scientist researcher economist analyst lawyer attorney author novelist actor actress
    singer founder editor journalist reporter correspondent
    schiedsrichter sturmer torwart arbitre attaquant gardien arbitro delantero portero
    """
    )
)
"""Words that, right before a name, say the name is a person's."""

TITLE_SUFFIXES = (
    "minister",
    "ministerin",
    "prasident",
    "prasidentin",
    "kanzler",
    "kanzlerin",
    "sprecher",
    "sprecherin",
    "chef",
    "chefin",
)
"""German compounds: Außenministerin, Regierungssprecher, Vorstandschef."""

ABBREVIATED_TITLES = frozenset(_words("mr mrs ms dr m mme mlle sr sra srta gen col sen rep prof"))

TITLE_MODIFIERS = frozenset(
    _words(
        """
    prime foreign vice deputy supreme former ex interior defence defense finance health
    economy trade senior acting state top first grand crown
    """
    )
)
"""Words that stand between a name and what precedes it without saying anything."""

SPEECH_AFTER = frozenset(
    _words(
        """
    said says told added noted stressed urged argued explained warned wrote asked replied
    announced insisted claimed tweeted admitted acknowledged recalled declared confirmed denied
    sagte sagt erklarte betonte warnte fugte teilte kundigte forderte schrieb meinte sprach
    declare affirme explique estime souligne ajoute assure
    dijo afirmo declaro explico aseguro señalo añadio advirtio anuncio subrayo destaco indico
    insistio
    """
    )
)
"""Verbs that follow a speaker's name: "Jalali added", "Koulai said"."""

SPEECH_AUXILIARIES = frozenset({"a", "ha"})
SPEECH_PARTICIPLES = frozenset(
    _words(
        """
    declare dit affirme explique ajoute souligne estime annonce indique assure averti rappele
    dicho afirmado explicado señalado asegurado declarado añadido advertido
    """
    )
)
"""French "a déclaré", Spanish "ha dicho"."""

SPEECH_BEFORE = frozenset(
    _words("said says added asked according selon segun laut sagte erklarte dijo afirmo declaro")
)
"""Words before a speaker's name: '"...," said Ansari', "according to", "selon"."""

ORG_HEADS = frozenset(
    _words(
        """
    ministry department bank party inc corp corporation ltd llc plc group council committee
    commission agency association university institute foundation court assembly authority
    company airlines airways news tv radio times post journal fund federation organization
    organisation board union house reserve
    ministerium partei rat gericht behorde agentur verband stiftung institut universitat ag gmbh
    konzern kommission gewerkschaft bundesamt
    ministere banque parti conseil cour tribunal assemblee agence universite fondation syndicat
    ministerio banco partido consejo audiencia agencia comision universidad instituto fundacion
    sindicato asamblea policia
    """
    )
)
"""Words that make a capitalised name an organisation's: Foreign Ministry, Banco de España."""

ORG_SUFFIXES = (
    "ministerium",
    "bank",
    "partei",
    "gericht",
    "behorde",
    "agentur",
    "verband",
    "stiftung",
    "institut",
    "universitat",
    "kommission",
    "gewerkschaft",
    "bundesamt",
)
"""German compound heads: Bundesagentur, Zentralbank, Robert Koch-Institut."""

CONNECTORS = frozenset(_words("of for and the de des du la le del der fur y di da"))
"""Lower-case words allowed inside an organisation's name (Bank of England)."""

COORDINATORS = frozenset(_words("and und et y"))
"""Words that join two names into a list, not one name."""

NAME_PARTICLES = frozenset(
    _words("de da di del van von der den la le bin ibn al el du dos das ter")
)
"""Lower-case words allowed inside a person's name (Ursula von der Leyen)."""

STOPWORDS = frozenset(
    _words(
        """
    the a an in on at by for from to of and but or if as after before during while when where
    with without this that these those he she it they we i you his her its their our my there
    here what who why how yet so also since until although though despite under over between
    among about according meanwhile however then now today yesterday tomorrow last next
    every each all both many some most several such no not only even just
    der die das den dem des ein eine einen einem einer und aber oder im am vom zum zur mit nach
    vor bei seit fur auf aus es er sie wir ich auch noch nun dann wie was wer wenn als doch
    le la les l un une et mais ou en au aux dans sur pour par avec sans selon il elle ils elles
    nous on ce cette ces
    el los las unos unas y pero con por para sin segun tras desde ella ellos este esta
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    montag dienstag mittwoch donnerstag freitag samstag sonntag
    januar februar marz juni juli oktober dezember
    lundi mardi mercredi jeudi vendredi samedi dimanche
    janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre
    lunes martes miercoles jueves viernes sabado domingo
    enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre
    """
    )
)
"""Capitalised at the start of a sentence, never part of a name."""
