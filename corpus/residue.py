"""Residue lines that publishers leave inside the article container.

Three kinds, as seen on real sites: calls to action and promos written in
ordinary words (generic rules can catch them), programme teasers and show
names, and arbitrary CMS strings ("Titre Aval") that only repetition across a
source's pages gives away. Each site draws its own set, so each source repeats
its own residue.
"""

from __future__ import annotations

CALLS_TO_ACTION: dict[str, list[str]] = {
    "en": [
        "Share your story",
        "Send your Videos and Photos to us",
        "Got a news tip? Contact our newsroom",
        "Follow us on Instagram",
        "Sign up for our Morning Briefing",
        "Subscribe to our newsletter",
        "Download our app",
        "Support independent journalism",
        "Share this article",
        "Tell us what you think",
        "Join the conversation",
        "Click here to subscribe",
        "Get the latest headlines in your inbox",
        "Follow our live coverage",
    ],
    "de": [
        "Teilen Sie Ihre Geschichte",
        "Schicken Sie uns Ihre Fotos und Videos",
        "Folgen Sie uns auf Instagram",
        "Jetzt Newsletter abonnieren",
        "Laden Sie unsere App herunter",
        "Artikel teilen",
        "Unterstützen Sie unabhängigen Journalismus",
        "Jetzt abonnieren",
        "Hier geht es zum Liveblog",
    ],
    "fr": [
        "Partagez votre histoire",
        "Envoyez-nous vos photos et vidéos",
        "Suivez-nous sur Instagram",
        "Abonnez-vous à notre newsletter",
        "Téléchargez notre application",
        "Partager cet article",
        "Soutenez le journalisme indépendant",
        "Inscrivez-vous à la lettre du matin",
    ],
    "es": [
        "Comparte tu historia",
        "Envíanos tus fotos y vídeos",
        "Síguenos en Instagram",
        "Suscríbete a nuestro boletín",
        "Descarga nuestra aplicación",
        "Compartir este artículo",
        "Apoya el periodismo independiente",
        "Recibe las noticias en tu correo",
    ],
}

SHOW_NAMES: dict[str, list[str]] = {
    "en": [
        "Science Weekly",
        "Morning Edition",
        "The Briefing",
        "Weekend Review",
        "World Tonight",
        "Money Matters",
        "The Long Read Podcast",
        "Sports Desk Daily",
    ],
    "de": [
        "Wissen am Mittwoch",
        "Der Morgen",
        "Wochenschau Kompakt",
        "Sport Aktuell",
        "Podcast Politik",
    ],
    "fr": [
        "Le Journal de 20h",
        "Science Hebdo",
        "Le Grand Entretien",
        "Midi Info",
        "Le Podcast Éco",
    ],
    "es": [
        "Ciencia Semanal",
        "El Informativo",
        "Deportes al Día",
        "La Entrevista",
        "Podcast Economía",
    ],
}

# programme-teaser shapes: {show} is a show name, {n} a duration, {code} a desk code
PROGRAMME_TEASERS: dict[str, list[str]] = {
    "en": [
        "{show} Repeat ({n}') - {code}",
        "Watch: {show} at 8pm",
        "Listen: {show}",
        "{show} (Live)",
    ],
    "de": [
        "{show} Wiederholung ({n}') - {code}",
        "Jetzt anhören: {show}",
        "Live: {show} ab 20 Uhr",
    ],
    "fr": ["{show} Rediffusion ({n}') - {code}", "À écouter : {show}", "En direct : {show}"],
    "es": ["{show} Repetición ({n}') - {code}", "Escucha: {show}", "En directo: {show}"],
}

# arbitrary CMS strings: no generic rule can know these; only repetition gives them away
CMS_STRINGS: list[str] = [
    "Titre Aval",
    "Bloc Promo",
    "Teaser Bas",
    "Zone Partenaire",
    "Modul Unten",
    "Pie Destacado",
    "Encart Droit",
    "Kasten Rechts",
    "Widget Footer",
    "Slot Mitte",
    "Module Suite",
    "Bandeau Info",
    "Caja Inferior",
    "Inline Promo B",
    "Feature Rail",
    "Sidebar Carry",
]

KICKERS: dict[str, list[str]] = {
    "en": ["• National", "• World", "Politics", "Business", "Live", "Exclusive", "Analysis"],
    "de": ["• Inland", "Politik", "Wirtschaft", "Exklusiv", "Analyse"],
    "fr": ["• France", "International", "Économie", "Exclusif", "Décryptage"],
    "es": ["• Nacional", "Internacional", "Economía", "Exclusiva", "Análisis"],
}

# lines that differ on every page: related-article teasers and photo credits
RELATED_PREFIXES: dict[str, list[str]] = {
    "en": ["Related: ", "READ MORE: ", "Read more: ", "Also read: ", "See also: "],
    "de": ["Lesen Sie auch: ", "Mehr zum Thema: ", "Auch interessant: "],
    "fr": ["À lire aussi : ", "Lire aussi : ", "Voir aussi : "],
    "es": ["Leer más: ", "Te puede interesar: ", "Lee también: "],
}

PHOTO_CREDITS: dict[str, list[str]] = {
    "en": [
        "Photo: {person}/Reuters",
        "Image: Getty Images",
        "(Photo by {person}/AFP)",
        "Picture: {person} / AP",
    ],
    "de": ["Foto: {person}/dpa", "Bild: picture alliance", "Foto: imago images"],
    "fr": ["Photo : {person} / AFP", "Crédit photo : {person}", "© AFP"],
    "es": ["Foto: {person} / EFE", "Imagen: Europa Press", "Fotografía: {person}"],
}

BYLINES: dict[str, str] = {
    "en": "By {author}",
    "de": "Von {author}",
    "fr": "Par {author}",
    "es": "Por {author}",
}

CHROME: dict[str, list[str]] = {
    "en": [
        "All rights reserved",
        "Privacy policy",
        "Terms of use",
        "Contact us",
        "Most read",
        "Accept cookies",
        "Advertise with us",
    ],
    "de": [
        "Alle Rechte vorbehalten",
        "Datenschutz",
        "Impressum",
        "Kontakt",
        "Meistgelesen",
        "Cookies akzeptieren",
    ],
    "fr": [
        "Tous droits réservés",
        "Politique de confidentialité",
        "Mentions légales",
        "Nous contacter",
        "Les plus lus",
        "Accepter les cookies",
    ],
    "es": [
        "Todos los derechos reservados",
        "Política de privacidad",
        "Aviso legal",
        "Contacto",
        "Lo más leído",
        "Aceptar cookies",
    ],
}
