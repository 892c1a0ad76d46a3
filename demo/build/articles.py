# Original (fictional) articles for the newsflow offline demo.
# Paragraph items are plain strings (<p>) or ("h2", text) for crossheads.

RIAL = [
    "Iran’s currency fell to a record low against the US dollar on the open market in Tehran on Monday, extending a slide that traders blamed on stalled talks over the country’s nuclear programme, tighter enforcement of US sanctions and persistent inflation.",
    "Currency dealers in the capital’s Ferdowsi Street exchange district quoted the dollar at around 1,080,000 rials in the afternoon, up from about 1,020,000 a week earlier, according to rate-tracking websites followed by traders. The euro and the UAE dirham, widely used in trade with Dubai, also rose sharply.",
    "The Central Bank of Iran said in a statement that it would inject more hard currency into the official exchange centre and warned that speculators would be pursued by the judiciary. Similar measures in recent years have slowed but not reversed the currency’s decline.",
    "Economists say the fall feeds directly into the prices of imported goods, medicine and food. Iran’s Statistical Centre put annual inflation above 35 percent in its latest monthly report, and bread and dairy prices have risen faster than the overall index.",
    "“Every time the rial drops, shopkeepers change their price labels within hours, but salaries are adjusted once a year,” said a Tehran-based economist who asked not to be named because of the sensitivity of the subject. “Households that depend on fixed incomes are the first to suffer.”",
    "Oil exports, Iran’s main source of foreign currency, have continued largely through discounted sales to China, but much of the revenue is held abroad and is difficult to repatriate, analysts say. The International Monetary Fund has forecast weak growth for the Iranian economy this year.",
    "Several members of parliament called on the economy minister to appear before the chamber to explain the government’s currency policy, while the minister’s office said the rate would stabilise once seasonal demand for foreign currency eased.",
    "Many Iranians have turned to gold coins, cars and cryptocurrencies to protect their savings, pushing up prices in those markets as well. The price of a full Bahar Azadi gold coin rose by about 4 percent on Monday alone.",
]

QUAKE = [
    "A magnitude 5.9 earthquake struck southern Iran early on Wednesday, damaging hundreds of homes in rural Hormozgan province and injuring at least 46 people, according to provincial officials.",
    "The quake hit at 04:12 local time at a depth of about 10 kilometres, some 60 kilometres west of the port city of Bandar Abbas, the Iranian Seismological Centre at the University of Tehran said. The United States Geological Survey put the magnitude at 5.8. Several aftershocks above magnitude 4 followed within two hours.",
    "The head of Hormozgan’s crisis management headquarters told state media that most of the injured had suffered cuts and fractures while fleeing their homes in the dark, and that 11 people remained in hospital. No deaths had been confirmed by midday.",
    "Images shared on social media showed collapsed mud-brick walls, cracked mosques and residents sleeping in the open near their villages. The Red Crescent Society of the Islamic Republic of Iran said it had sent rescue teams, tents, blankets and drinking water to the worst-hit districts and was assessing damage in more remote settlements.",
    "Electricity was cut in parts of the province after the tremor, and some roads were briefly blocked by landslides, officials said. Schools in three counties were closed for the day as a precaution.",
    "Iran sits on several major fault lines and experiences frequent earthquakes. In 2003 an earthquake destroyed much of the ancient city of Bam in Kerman province, killing more than 26,000 people, and rural buildings made of unreinforced brick and clay remain particularly vulnerable.",
    "Residents complained on social media that aid had been slow to reach villages in the mountains. “We spent the night in the fields with our children and nobody came until the morning,” one man from a village near the epicentre said in a video.",
    "Provincial authorities said engineers would inspect damaged buildings before families were allowed back into their homes, and that compensation payments would be announced once the assessment was complete.",
]

OPEC = [
    "Oil prices climbed on Monday after OPEC+ producers agreed over the weekend to extend voluntary output cuts into the first quarter of next year, easing concerns about a supply glut as demand growth slows in major economies.",
    "Brent crude futures rose $1.42, or 2.0 percent, to $72.85 a barrel by 10:30 GMT, while US West Texas Intermediate crude gained $1.35 to $68.90. Both benchmarks had fallen more than 6 percent over the previous three weeks.",
    "The Organization of the Petroleum Exporting Countries and allies led by Russia, known as OPEC+, said after a virtual ministerial meeting on Sunday that eight member countries would keep about 2.2 million barrels per day of voluntary cuts in place until the end of March instead of starting to unwind them next month.",
    "Saudi Arabia’s energy ministry described the decision as a precautionary step to support the stability and balance of oil markets. Russia, Iraq, the United Arab Emirates, Kuwait, Kazakhstan, Algeria and Oman are also part of the voluntary arrangement.",
    "Iran, an OPEC member exempt from the group’s production quotas because of US sanctions, has increased its crude output over the past year despite the restrictions, according to the secondary sources used by the organisation to monitor production.",
    "Analysts said the extension had been largely expected but that the market’s attention would now shift to whether members comply with their targets. “Compensation cuts by countries that overproduced earlier in the year are the real test,” said Helena Marsh, an oil analyst at a London-based consultancy.",
    "Weak demand in China, the world’s largest crude importer, has weighed on prices for most of the year, while production in the United States, Brazil and Guyana has reached record levels. The International Energy Agency expects global supply to exceed demand next year even if OPEC+ keeps its cuts in place.",
    "Higher prices would offer some relief to producers whose budgets rely on oil revenue. Several Gulf states need prices above $80 a barrel to balance their budgets, according to International Monetary Fund estimates.",
    "The group’s next full ministerial meeting is scheduled for early June.",
]

CLIMATE = [
    "Negotiators from nearly 200 countries agreed on Saturday to triple finance for climate adaptation in developing nations by 2035, closing two weeks of United Nations climate talks that ran more than a day past their scheduled end.",
    "The final text, adopted after an all-night session, calls on developed countries to scale up funding to help vulnerable states cope with floods, droughts, heatwaves and rising seas, but does not set out how much each contributor should pay. It also launches a work programme on trade measures linked to climate policy, a priority for China, India and other large emerging economies.",
    "Small island states and a bloc of least developed countries welcomed the adaptation target but said it fell far short of what they needed. “We came here asking for a lifeline and we are leaving with a promise,” the lead negotiator for one Pacific island group told reporters after the closing plenary.",
    "The European Union and the United Kingdom had pushed for stronger language on moving away from fossil fuels, building on the commitment made at COP28 in Dubai to transition away from coal, oil and gas in energy systems. That language was softened in the final hours after objections from several oil-producing countries, delegates said.",
    "The UN’s climate chief said in closing remarks that the outcome kept the goals of the Paris Agreement within reach, but that the national plans submitted so far were not enough to limit global warming to 1.5 degrees Celsius.",
    "The latest assessment by the World Meteorological Organization found that the past decade was the warmest on record, and scientists warn that each fraction of a degree of additional warming increases the frequency and intensity of extreme weather.",
    "Environmental groups gave the deal a mixed reception. Campaigners praised the adaptation goal and a new commitment to protect tropical forests but criticised the lack of a timeline for phasing out fossil fuel subsidies.",
    "Iran, one of the world’s largest producers of natural gas, said in its national statement that sanctions restricted its access to clean technology and finance, and called for the removal of what its delegation described as unilateral coercive measures.",
    "Countries are due to submit updated national climate plans before next year’s conference.",
]

TENNIS = [
    "VIENNA (WorldWire) - Austria’s Lukas Brenner saved two championship points before beating Spain’s Mateo Ruiz 6-4 3-6 7-6(5) in the final of the Vienna indoor tournament on Sunday, claiming his first ATP 500 title in front of a home crowd.",
    "The 24-year-old, seeded sixth, trailed 5-4 in the deciding set with Ruiz serving for the match, but broke back with a forehand winner down the line and then held his nerve in a tense tiebreak that lasted almost a quarter of an hour.",
    "“I don’t think I have ever heard the stadium this loud,” Brenner said during the trophy ceremony. “At 5-4 I told myself just to put the ball in the court and make him play one more shot. It’s the best day of my career.”",
    "Ruiz, the second seed, had dominated the middle set with heavy serving, winning 91 percent of points on his first serve and breaking Brenner twice. The 27-year-old from Valencia was bidding for his third title of the season.",
    "“He played the big points better than me, that’s tennis,” Ruiz said. “I had my chances, two match points, and on both I was a little bit too passive. I have to accept it and learn.”",
    "Brenner fired 14 aces and 38 winners in the two-hour, 41-minute final, and had not dropped serve in his previous four matches. The victory lifts him to a career-high 14th in the ATP rankings on Monday and keeps alive his hopes of qualifying as an alternate for the season-ending ATP Finals in Turin.",
    "The tournament, one of the oldest indoor events on the men’s tour, drew a record attendance of more than 70,000 spectators over the week, organisers said. Brenner said he would take a few days off before deciding on his schedule for the rest of the season.",
]

MEASLES = [
    "GENEVA/COPENHAGEN (WorldWire) - Measles cases across Europe and Central Asia rose sharply this year as vaccination coverage failed to recover from disruptions during the COVID-19 pandemic, the World Health Organization and UNICEF said on Tuesday.",
    "The two United Nations agencies said countries in the WHO European Region had reported more than 89,000 measles infections in the first ten months of the year, and that at least 38 people had died from the disease. Children under five accounted for more than 40 percent of reported cases.",
    "Romania, Kazakhstan and Azerbaijan reported the highest numbers, but outbreaks were also recorded in Austria, Belgium, Ireland and the United Kingdom, according to the agencies’ joint statement.",
    "Measles is one of the most contagious human viruses. Health officials say at least 95 percent of children need to receive two doses of the measles, mumps and rubella (MMR) vaccine to prevent sustained outbreaks. Coverage with the second dose stands at around 91 percent in the region, with much lower rates in some districts and communities.",
    "“Every child who misses a dose is a gap in the wall that protects all of us,” a senior WHO immunisation official in Copenhagen told reporters. The agencies urged governments to run catch-up vaccination campaigns, strengthen disease surveillance and counter misinformation about vaccines, which they said had eroded trust among some parents.",
    "In Romania, which declared a measles epidemic in 2023, health authorities have extended mobile vaccination clinics to rural areas and Roma communities, where coverage is lowest. Kazakhstan launched a nationwide catch-up campaign in schools in the spring.",
    "The disease can cause serious complications including pneumonia, brain swelling and lifelong disability, and it weakens the immune system for months or years after infection, making children more vulnerable to other illnesses.",
    "The European Centre for Disease Prevention and Control said separately that most cases in the European Union were in unvaccinated people, and advised travellers to check that their vaccinations were up to date before the holiday season.",
]

NATO = [
    "BRUSSELS (WorldWire) - NATO defence ministers agreed on Thursday to reinforce the alliance’s air-policing mission over the Baltic states with additional fighter jets and air-defence radars, after a series of airspace violations and drone incursions that allies have blamed on Russia.",
    "Under the plan, the number of fighter aircraft rotating through bases in Lithuania and Estonia will rise from eight to twelve for at least six months, and Germany, the Netherlands and Sweden will provide additional ground-based sensors to detect low-flying drones, according to two diplomats familiar with the decision.",
    "Estonia, Latvia and Lithuania had asked for reinforcements after Russian military aircraft entered Estonian airspace for several minutes last month and drones crashed in fields in eastern Lithuania. None of the incidents caused injuries, but Baltic officials said they were part of a pattern of deliberate provocations.",
    "“Every violation is a test of our resolve, and our answer is a stronger and more visible presence,” NATO spokeswoman Ingrid Saar said after the meeting at the alliance’s headquarters in Brussels.",
    "Russia’s defence ministry denied that its aircraft had violated Estonian airspace and accused the alliance of escalating tensions in the region by moving forces closer to Russia’s borders.",
    "The ministers also reviewed progress towards the spending target agreed at the alliance’s summit in The Hague last year, under which members pledged to raise defence and security-related spending to 5 percent of gross domestic product by 2035. Several countries in southern Europe remain far from the target, diplomats said.",
    "Support for Ukraine was also on the agenda. Ministers discussed the joint purchase of air-defence systems and ammunition and ways to coordinate deliveries with the European Union, which is preparing a new package of military assistance.",
    "Finland and Sweden, which joined NATO in 2023 and 2024 respectively after Russia’s full-scale invasion of Ukraine, have taken a larger role in Baltic security, and Swedish Gripen fighters have joined the air-policing rotation.",
    "The enhanced mission will be reviewed in the spring, when alliance commanders are due to present a longer-term plan for protecting NATO’s eastern flank against drones.",
]

ECB = [
    "The European Central Bank left its key interest rates unchanged on Thursday for the fourth meeting in a row, saying inflation in the euro area was close to its 2 percent target and that the economy was proving more resilient than expected despite higher US tariffs.",
    "The deposit facility rate, which the ECB uses to steer monetary policy, remains at 2.00 percent, while the rate on the main refinancing operations stays at 2.15 percent. The decision by the Governing Council was unanimous, the bank said.",
    "Speaking at a press conference in Frankfurt, the bank’s president said policymakers were comfortable with the current level of rates but would keep taking decisions meeting by meeting, without committing in advance to any particular path.",
    "Eurostat’s flash estimate showed consumer prices rose 2.1 percent year on year in October, while core inflation, which excludes energy, food, alcohol and tobacco, eased to 2.3 percent. Services inflation, closely watched by the ECB because it reflects wage growth, slowed to 3.2 percent.",
    "New staff projections published alongside the decision see inflation averaging 2.0 percent next year and 1.9 percent the year after, while economic growth in the 21-country currency bloc is forecast at 1.2 percent next year, slightly higher than projected in September.",
    "The euro edged up 0.2 percent to $1.1640 after the announcement, and the yield on Germany’s two-year government bond was little changed at 2.02 percent. Money markets continued to price only a small chance of another rate cut by the middle of next year.",
    "Policymakers flagged risks from trade tensions with the United States and China, and from higher defence spending by European governments, which could push up prices over the medium term. Some Governing Council members have argued in recent speeches that the bank’s next move could eventually be a hike rather than a cut.",
    "“The ECB is firmly on hold and happy to stay there,” said Johanna Weiss, chief European economist at a Frankfurt-based bank. “It would take a significant shock to growth or a clear undershoot of inflation to bring another cut back on the table.”",
    "Negotiated wage growth in the euro area slowed to about 3 percent in the third quarter, according to ECB data, down from more than 4 percent a year earlier, supporting the view that services inflation will continue to ease.",
    "The decision contrasts with the US Federal Reserve and the Bank of England, both of which have continued to lower borrowing costs this autumn as their economies cool. The ECB’s next monetary policy meeting is scheduled for mid-December.",
]

# Syndicated copy on metrotimes.example: other headline, first ~80% of the text,
# first paragraph lightly retouched, one quote paragraph dropped.
ECB_COPY = [
    "The European Central Bank kept its key interest rates unchanged on Thursday for the fourth meeting in a row, saying inflation in the euro area was close to its 2 percent target and that the economy was proving more resilient than expected despite higher US tariffs.",
    ECB[1],
    ECB[2],
    ECB[3],
    ECB[4],
    ECB[5],
    ECB[6],
    ECB[8],
]

BATTERY = [
    "A research team in Japan and Germany says it has built a solid-state lithium-metal battery cell that can be charged from 10 percent to 80 percent in 12 minutes and still retains 91 percent of its capacity after 1,000 full charging cycles, a combination carmakers have long sought.",
    "The results, published on Wednesday in a peer-reviewed energy journal, describe a pouch cell that uses a sulfide-based solid electrolyte in place of the flammable liquid found in conventional lithium-ion batteries. The researchers say the cell stores about 400 watt-hours per kilogram, roughly 40 percent more than the best cells in electric cars on the road today.",
    "Solid-state batteries have been promoted for more than a decade as a way to make electric vehicles lighter, safer and quicker to charge. But they have proved difficult to manufacture at scale, and many designs degrade quickly because needle-like lithium structures known as dendrites grow through the electrolyte during fast charging, causing short circuits.",
    "The team said it suppressed dendrite formation by adding an ultra-thin interlayer of silver and carbon between the lithium anode and the electrolyte, and by applying moderate pressure to the cell stack. “The interlayer guides lithium to deposit evenly instead of forming sharp spikes,” said the study’s lead author, materials scientist Aiko Tanaka.",
    "Independent experts welcomed the results but cautioned that laboratory cells are far smaller than the batteries used in vehicles. “The cycling data are impressive, but the real challenges are cost, yield and keeping the pressure uniform across large cells,” said Martin Feld, a battery researcher who was not involved in the work.",
    ("h2", "Race to commercialise"),
    "Several carmakers, including Toyota, Volkswagen and BMW, have announced plans to put solid-state batteries into production vehicles before the end of the decade. Chinese battery makers, which dominate global production of lithium-ion cells, are also investing heavily in the technology.",
    "The European Union has made battery manufacturing a strategic priority as it tries to reduce its dependence on Asian suppliers, and the project received part of its funding from the EU’s Horizon Europe research programme, the authors said.",
    "The researchers plan to build larger cells next year with an industrial partner and to test them under the temperature and vibration conditions found in vehicles.",
]

FOOTBALL = [
    "Harbour City came from a goal down to beat Eastfield Rovers 2-1 at the Quayside Stadium on Saturday, with captain Daniel Okafor converting a stoppage-time penalty after a lengthy video review.",
    "Rovers had taken a deserved lead in the 27th minute when winger Tomás Varga cut inside from the left and curled a shot beyond goalkeeper Sam Whitlock into the far corner. The visitors, unbeaten in their previous six league matches, pressed high and restricted the home side to long-range efforts for most of the first half.",
    "City manager Ruth Calloway made two changes at half-time, bringing on midfielder Jonas Lind and striker Kofi Mensah, and the switch to a back three changed the course of the game. Mensah equalised eight minutes after the restart, heading in Lind’s cross at the near post for his seventh goal of the season.",
    "Both sides had chances to win it. Whitlock saved well from Varga’s low drive in the 71st minute, and at the other end Rovers defender Marco Bellini cleared Okafor’s shot off the line with the goalkeeper beaten.",
    "The decisive moment came in the fourth minute of added time. Mensah went down under a challenge from Bellini as he turned in the penalty area, and referee Claire Dawson initially waved play on. After a check lasting nearly three minutes, the video assistant referee recommended an on-field review, and Dawson pointed to the spot.",
    "Okafor sent goalkeeper Piotr Zielinski the wrong way, sparking wild celebrations in front of a crowd of 38,412.",
    "“We showed character today,” Calloway said. “At half-time I told the players we were too passive and too far away from their midfield. The second half was the team I want to see every week.”",
    "Rovers manager Alan Brody called the penalty decision soft and questioned the length of the review. “I have looked at it again and there is minimal contact. When you need three minutes to find something, for me it’s not a clear and obvious error,” he said.",
    "The win lifts Harbour City to third in the table, level on points with second-placed Westbrook but behind on goal difference, and one point clear in the race for the last UEFA Champions League place. Eastfield Rovers drop to sixth.",
    "City travel to Westbrook next Saturday, while Rovers host bottom side Milltown on Sunday.",
]

ELECTION = [
    "Bulgaria’s main centre-right bloc won the most votes in Sunday’s snap parliamentary election, the country’s eighth since 2021, but fell well short of a majority, setting the stage for another round of difficult coalition negotiations.",
    "With 98 percent of ballots counted, the bloc led by a former prime minister had 27.4 percent of the vote, according to the Central Election Commission. A liberal reformist coalition came second with 15.9 percent, followed by a nationalist, Russia-friendly party with 13.1 percent.",
    "Five other parties appeared set to clear the 4 percent threshold needed to enter the 240-seat National Assembly, which would leave parliament as fragmented as the one it replaces. Turnout was 36.8 percent, among the lowest since the end of communism, reflecting voter fatigue after years of repeated elections.",
    "The vote was called after the previous minority government resigned following weeks of street protests over a proposed budget and allegations of corruption in public procurement. A caretaker cabinet appointed by the president has run the country since then.",
    "The leader of the winning bloc told supporters in Sofia that his party would seek a stable, pro-European majority and invited the reformists to start talks this week. The reformist coalition has previously refused to govern with the bloc, accusing it of protecting oligarchic interests, but some of its leaders signalled on Sunday night that they were open to a temporary arrangement to pass a budget.",
    "Analysts said the result increased the chances of a technocratic government or of yet another election in the spring. “Nobody has a natural partner, and every option carries a political cost,” said Elena Petrova, a political scientist in Sofia.",
    "Bulgaria, a member of the European Union and NATO, adopted the euro at the start of this year after years of preparation. Brussels has urged Sofia to maintain fiscal discipline and to press ahead with judicial reforms linked to the release of EU recovery funds.",
    "Observers from the Organization for Security and Co-operation in Europe said the election was competitive and that fundamental freedoms were respected, but noted persistent concerns about vote-buying in some regions and the misuse of administrative resources.",
    "The new parliament must convene within a month. Under the constitution, the president will hand a mandate to form a government first to the largest party, then to the second, and finally to a party of his choosing.",
]

RHEIN = [
    "Der anhaltend niedrige Wasserstand des Rheins bringt die Binnenschifffahrt zunehmend in Schwierigkeiten. Am Pegel Kaub, der als wichtigste Messstelle für die Schifffahrt am Mittelrhein gilt, wurden am Dienstagmorgen nur noch 48 Zentimeter gemessen. Frachtschiffe können deshalb vielerorts nur noch etwa ein Drittel ihrer üblichen Ladung transportieren.",
    "„Wir fahren mit halb leeren Schiffen und müssen trotzdem die vollen Kosten tragen“, sagte ein Sprecher des Bundesverbands der Deutschen Binnenschiffahrt dem Tagesblick. Reedereien erheben inzwischen sogenannte Kleinwasserzuschläge, die die Transportkosten für ihre Kunden deutlich erhöhen.",
    "Besonders betroffen sind Industrieunternehmen entlang des Flusses, die Rohstoffe wie Kohle, Erze, Chemikalien und Mineralölprodukte per Schiff beziehen. Ein großer Chemiekonzern in Ludwigshafen teilte mit, man habe vorsorglich mehr Transporte auf Schiene und Straße verlagert; die Produktion laufe bislang ohne Einschränkungen.",
    "Nach Angaben der Wasserstraßen- und Schifffahrtsverwaltung des Bundes ist vorerst keine Entspannung in Sicht. Der Deutsche Wetterdienst erwartet für die kommenden zehn Tage nur geringe Niederschläge im Einzugsgebiet des Rheins, und in den Alpen ist bislang kaum Schnee gefallen.",
    ("h2", "Folgen des Klimawandels"),
    "Fachleute sehen in den wiederkehrenden Niedrigwasserperioden eine Folge des Klimawandels. Längere Trockenphasen im Sommer und Herbst sowie der Rückgang der Alpengletscher führten dazu, dass der Fluss häufiger und länger wenig Wasser führe, sagte eine Hydrologin der Bundesanstalt für Gewässerkunde in Koblenz.",
    "Im Herbst 2018 war der Pegel Kaub zeitweise auf 25 Zentimeter gefallen, im August 2022 wurden 32 Zentimeter gemessen. Damals mussten einige Kraftwerke ihre Leistung drosseln, weil Kohlelieferungen ausblieben.",
    "Die Bundesregierung plant seit Jahren, die Fahrrinne am Mittelrhein zwischen Mainz und St. Goar abschnittsweise zu vertiefen. Das Projekt soll die Abladetiefe bei Niedrigwasser um 20 Zentimeter verbessern, verzögert sich aber wegen aufwendiger Planungs- und Genehmigungsverfahren. Umweltverbände kritisieren das Vorhaben und fordern stattdessen, mehr Güter auf die Schiene zu verlagern.",
    "Für Verbraucher könnten die Folgen bald spürbar werden: Heizöl und Diesel haben sich in Süddeutschland in der vergangenen Woche bereits um mehrere Cent je Liter verteuert, weil Tanklager am Oberrhein schlechter beliefert werden.",
]

AUTOMATEN = [
    "Wegen einer Serie von Geldautomatensprengungen in Nordrhein-Westfalen und Niedersachsen hat das Landgericht Osnabrück am Donnerstag fünf Männer zu Freiheitsstrafen zwischen fünf und elf Jahren verurteilt. Die Kammer sah es als erwiesen an, dass die Angeklagten zwischen Herbst 2024 und Frühjahr 2025 an insgesamt 17 Sprengungen beteiligt waren.",
    "Die Männer im Alter von 23 bis 35 Jahren, die überwiegend aus den Niederlanden stammen, erbeuteten dabei nach den Feststellungen des Gerichts rund 2,3 Millionen Euro. Der Sachschaden an Bankfilialen und Wohnhäusern beläuft sich auf mehr als vier Millionen Euro. Verurteilt wurden sie unter anderem wegen schweren Bandendiebstahls und Herbeiführens einer Sprengstoffexplosion.",
    "Nach Überzeugung der Richter gingen die Täter stets nach demselben Muster vor: Sie fuhren nachts mit hochmotorisierten Autos aus den Niederlanden über die Grenze, sprengten die Automaten mit selbstgebauten Sprengsätzen aus festem Explosivstoff und flüchteten mit teils mehr als 200 Kilometern pro Stunde über die Autobahn.",
    "„Die Angeklagten haben den Tod von Menschen billigend in Kauf genommen“, sagte der Vorsitzende Richter in der Urteilsbegründung. In mehreren Fällen befanden sich Wohnungen direkt über den gesprengten Filialen; bei einer Tat in einer Kleinstadt im Emsland wurde eine Hauswand so schwer beschädigt, dass das Gebäude vorübergehend nicht bewohnbar war.",
    "Gefasst wurden die Männer nach monatelangen Ermittlungen einer gemeinsamen Ermittlungsgruppe deutscher und niederländischer Behörden, die von Europol unterstützt wurde. Entscheidend waren nach Angaben der Staatsanwaltschaft die Auswertung von Mobilfunkdaten und Spuren an einem ausgebrannten Fluchtfahrzeug.",
    "Die Verteidigung hatte für zwei der Angeklagten deutlich geringere Strafen gefordert und argumentiert, diese seien lediglich als Fahrer eingesetzt worden. Das Urteil ist noch nicht rechtskräftig; die Verteidiger kündigten an, eine Revision beim Bundesgerichtshof zu prüfen.",
    "Nach Zahlen des Bundeskriminalamts ist die Zahl der Geldautomatensprengungen in Deutschland zuletzt deutlich zurückgegangen, nachdem Banken viele Automaten nachts verschließen, Farbpatronen zum Einfärben der Geldscheine einbauen und gefährdete Standorte aufgegeben haben.",
]

TEMPORAL = [
    "El paso de la borrasca Ofelia ha dejado sin suministro eléctrico a más de 60.000 hogares en Galicia, ha obligado a cortar una docena de carreteras y ha provocado el desalojo preventivo de unas 300 personas en varios municipios de la provincia de A Coruña, según informó este miércoles la Xunta.",
    "La Agencia Estatal de Meteorología (Aemet) mantiene activado el aviso rojo por fenómenos costeros en el litoral de A Coruña y Lugo, donde se esperan olas de hasta nueve metros, y el aviso naranja por lluvias intensas en el interior de la comunidad. En las últimas 24 horas se registraron rachas de viento de hasta 140 kilómetros por hora en Cabo Vilán.",
    "Los servicios de emergencias del 112 Galicia atendieron más de 1.400 incidencias desde la noche del martes, la mayoría por caída de árboles, desprendimientos y daños en tejados. Un hombre de 67 años resultó herido grave al ser alcanzado por una rama en Santiago de Compostela y fue trasladado al hospital.",
    "En Betanzos y Pontedeume, el desbordamiento de los ríos Mandeo y Eume anegó bajos comerciales y garajes. «El agua subió en menos de una hora, no nos dio tiempo a sacar nada», explicó una comerciante del casco histórico de Betanzos mientras achicaba agua de su tienda.",
    "Las compañías eléctricas han movilizado a más de 800 técnicos para restablecer el suministro, aunque advirtieron de que algunas aldeas del interior podrían seguir sin luz hasta el jueves por las dificultades de acceso.",
    "Las clases presenciales se suspendieron en 45 concellos, y Adif interrumpió la circulación ferroviaria entre A Coruña y Ferrol por la caída de árboles sobre la vía.",
    "El Gobierno central ha ofrecido ayuda a través de la Unidad Militar de Emergencias (UME), que por el momento no ha sido requerida. La Xunta estudiará solicitar la declaración de zona afectada gravemente por una emergencia de protección civil una vez se evalúen los daños.",
    "Según la Aemet, la borrasca se alejará hacia el golfo de Vizcaya a partir del jueves, aunque se espera la llegada de un nuevo frente atlántico durante el fin de semana.",
]
