"""Phrase banks and templates of the synthetic training corpus (see ``corpus.py``).

Every bank is a list; banks named in ``SPLIT_BANKS`` are cut by position (3 mod 4 → test,
1 mod 4 → validation, the rest → train) so that test posts use phrasings the model never saw.
Templates are cut the same way inside each family. Nothing here was taken from real posts.
"""

from __future__ import annotations

# --- products -------------------------------------------------------------------------------
FENT_ES = [
    "fentanilo", "fenta", "fentanilo original", "fentas", "fentanilo citrato", "fentanilo de hospital",
    "fentanest", "fentanyl", "fentanil", "fentanilo 100% original", "fentanilo sellado", "fentita",
    "fentanilo Janssen", "fentanilo de clínica", "fentanilo nacional", "fentanylo", "citrato de fentanilo",
    "fentanillo", "fentanilo importado", "fenta original",
]
FENT_EN = [
    "fentanyl", "fent", "fetty", "fentanyl powder", "fent powder", "pure fent", "fentanyl HCl",
    "fentanyl citrate", "china white", "fenty", "fire fent", "uncut fent",
]
SLANG_EN = [
    "M30s", "blues", "china white", "apache", "dance fever", "murder 8", "tango and cash",
    "pressed blues", "perc 30s", "jackpot", "blue m's", "goodfellas", "TNT", "M-30s",
    "fent pills", "rainbow fent", "blue dolphins", "pressed 30s", "m boxes", "dirty 30s",
]
SLANG_ES = [
    "M30", "azules", "las azules", "M-30", "pastillas azules M30", "blues", "la china white",
    "apache", "las M", "azulitas", "pastis M30", "la china blanca",
]
OPIOID_ES = [
    "tramadol", "morfina", "oxicodona", "metadona", "petidina", "codeína", "tramal", "oxycontin",
    "percocet", "remifentanilo", "hidromorfona", "meperidina", "heroína", "dilaudid", "tramadol gotas",
    "morfina en ampollas",
]
OPIOID_EN = [
    "oxy", "oxycodone", "percs", "roxies", "dilaudid", "oxycontin 80s", "heroin", "black tar",
    "lean", "codeine syrup", "methadone", "morphine", "hydrocodone", "norcos", "dillies", "subs",
]
FORM_ES = [
    "ampollas", "ampollitas", "ampollas de 2 ml", "cajas x 50 ampollas", "ampollas de 10 ml",
    "parches", "parches de 50 mcg", "frascos", "viales", "ampollas selladas", "amp", "caja x 10 amp",
    "ampollas 0.5 mg/10 ml", "parches de 25", "unidades",
]
STRENGTH = [
    "0.05 mg/ml", "0.5mg/10ml", "100 mcg", "50mcg/ml", "0.1 mg/2 ml", "2ml", "10 ml", "25 mcg/h",
    "50 mcg/h", "100mcg/2ml", "500 mcg",
]
QTY = ["1", "2", "3", "5", "10", "12", "20", "25", "50", "100", "una", "dos", "media docena", "una docena"]

# --- sale language ---------------------------------------------------------------------------
OFFER_ES = [
    "Vendo", "Tengo", "Disponible", "Hay", "Remato", "Vendemos", "Ofrezco", "Tenemos", "Llegaron",
    "En stock", "Se vende", "Contamos con", "Ya llegó", "Quedan pocas", "Saqué", "Liquido",
    "Dispongo de", "Tengo stock de", "Se ofrece", "Tenemos en oferta",
]
OFFER_EN = [
    "Selling", "Got", "In stock:", "New batch of", "Just landed:", "Plug for", "Restocked",
    "Holding", "Have", "Dropping", "Fresh", "Now serving",
]
SALE_TAIL_ES = [
    "sin receta", "al por mayor y menor", "precio conversable", "precio de amigo", "por unidad o caja",
    "mínimo 5", "solo gente seria", "originales", "al x mayor", "precio especial por cantidad",
    "sin receta médica", "sin preguntas", "por docena más barato", "ofertas por volumen",
    "entrega inmediata", "sin orden médica", "calidad garantizada", "no se fía",
]
SALE_TAIL_EN = [
    "no script needed", "no rx", "bulk discounts", "legit pressed", "pharma grade", "real deal",
    "serious buyers only", "best prices", "ask for the menu", "no lowballers", "tested", "same day",
]
DELIVERY_ES = [
    "delivery a todo Lima", "delivery en {place}", "hago envíos a provincia", "entrego en {place}",
    "envíos por Olva", "envíos por Shalom", "delivery {place} y alrededores", "punto de encuentro en {place}",
    "recojo en {place}", "envíos a todo el Perú", "delivery rápido", "entregas en {place}",
    "contra entrega en {place}", "delivery motorizado", "envío discreto", "agencia a provincias",
]
DELIVERY_EN = [
    "same day delivery", "ships overnight", "meetups in {city}", "local delivery only", "discreet shipping",
    "worldwide shipping", "stealth packaging", "can mail", "drop off in {city}", "tracking provided",
]
PAY_ES = [
    "Yape", "Plin", "Yape o Plin", "yape/plin", "pago por yape", "yapeas y te mando", "efectivo",
    "transferencia BCP", "Interbank", "depósito en cuenta", "plin al {phone}", "yape al {phone}",
    "pago adelantado por yape", "aceptamos plin",
]
PAY_EN = ["cashapp", "zelle", "BTC only", "venmo", "crypto", "XMR", "cash only", "apple pay", "BTC or XMR", "paypal F&F"]
CONTACT_ES = [
    "wsp {phone}", "al {phone}", "escríbeme al {phone}", "info al dm", "al privado", "inbox",
    "contacto {handle}", "telegram {handle}", "t.me/{user}", "whatsapp {phone}", "llama al {phone}",
    "info por interno", "escribir a {handle}", "wa.me/51{digits}", "pedidos al {phone}", "dm",
]
CONTACT_EN = [
    "hmu", "dm me", "text {usphone}", "snap {user}", "telegram {handle}", "hit my line", "wickr {user}",
    "signal only", "t.me/{user}", "dm for menu", "kik {user}", "text for the menu",
]
GREET_ES = ["Buenas", "Hola grupo", "Atención", "Buenas tardes", "Hola a todos", "Ojo", "Hey", "Buen día", "Gente", "Habla causas"]
GREET_EN = ["Yo", "Hey fam", "Attention", "Whats good", "Heads up", "Sup", "Ayo", "Hello all"]
EMOJI_POS = ["💊", "💉", "🔌", "💙", "🔵", "🚀", "📦", "🔥", "✅", "💯", "🤫", "📲", "🐉", "⚡", "😴"]
EMOJI_NEG = ["🙏", "😢", "📰", "⚠️", "❤️", "👍", "😂", "🎉", "📢", "🙌", "😷", "🏥"]
PRICE_ES = [
    "S/ {n}", "S/. {n}", "{n} soles", "{n} lucas", "a {n}", "S/{n} c/u", "{n} soles la unidad",
    "S/ {n} la caja", "{n} soles x ampolla", "S/. {n} por parche",
]
PRICE_EN = ["${n}", "{n} each", "${n}/ea", "{n} bucks", "${n} a pop", "{n} for a ten pack", "USD {n}"]

# --- negatives ---------------------------------------------------------------------------------
OTHER_DRUG_ES = [
    "marihuana", "cripy", "coca", "tusi", "éxtasis", "pasta básica", "ketamina", "hongos", "creepy",
    "moño", "perico", "LSD", "2cb", "cocaína", "kush", "popper",
]
OTHER_DRUG_EN = ["weed", "kush", "coke", "molly", "shrooms", "carts", "edibles", "pressies", "ketamine", "acid tabs", "zaza", "snow"]
LEGIT_DRUG = [
    "paracetamol 500 mg", "ibuprofeno 400 mg", "amoxicilina 500 mg", "omeprazol 20 mg", "naproxeno",
    "loratadina", "vitamina C", "complejo B", "panadol antigripal", "losartán 50 mg", "metformina",
    "diclofenaco gel", "sales de rehidratación", "ácido fólico", "salbutamol inhalador", "cetirizina",
]
AGENCY = [
    "la PNP", "la Dirandro", "Sunat", "la Policía Nacional", "Digemid", "la Fiscalía", "Aduanas",
    "agentes de la Dirandro", "efectivos policiales", "la Diresa", "la Divindat", "el Ejército",
]
NEWS_PLACE = [
    "Piura", "Tumbes", "Zarumilla", "Aguas Verdes", "Sullana", "Paita", "Talara", "Castilla",
    "el Callao", "San Juan de Lurigancho", "Chiclayo", "Trujillo", "Arequipa", "Tacna", "Puno",
    "Lima", "Chimbote", "Iquitos", "Cusco", "Huancayo", "Ica", "Cajamarca",
]
PLACES = [
    "Lima", "SJL", "San Juan de Lurigancho", "Los Olivos", "Comas", "Callao", "Surco", "Miraflores",
    "San Miguel", "Villa El Salvador", "Ate", "Chorrillos", "Independencia", "San Martín de Porres",
    "Piura", "Tumbes", "Zarumilla", "Sullana", "Chiclayo", "Trujillo", "Arequipa", "Cusco",
    "Huancayo", "Ica", "Tacna", "Juliaca", "Puno", "Iquitos", "Pucallpa", "Chimbote", "Cercado de Lima",
    "La Victoria", "Breña", "Rímac", "Puente Piedra", "Carabayllo", "Santa Anita", "Lince", "Barranco",
    "Castilla", "Paita", "Talara", "Huaraz", "Cajamarca", "Tarapoto", "Ayacucho", "Moquegua",
]
US_CITY = ["Philly", "the Bronx", "Phoenix", "Seattle", "Portland", "Denver", "Baltimore", "Chicago", "LA", "Dayton"]
USERS = [
    "dragonblanco", "farma_pe", "elplug_lima", "medsfast", "rx_peru", "bluesline", "nortefarma",
    "delivery247", "ampollas_pe", "pharmaking", "elchino_pe", "surplug", "quimico_sur", "calidad_pe",
    "vip_meds", "boticanegra", "plug_oficial", "drmeds", "el_tio_pe", "farmanorte",
]

SPLIT_BANKS = (
    "FENT_ES", "FENT_EN", "SLANG_EN", "SLANG_ES", "OPIOID_ES", "OPIOID_EN", "FORM_ES", "OFFER_ES",
    "OFFER_EN", "SALE_TAIL_ES", "SALE_TAIL_EN", "DELIVERY_ES", "DELIVERY_EN", "PAY_ES", "CONTACT_ES",
    "CONTACT_EN", "OTHER_DRUG_ES", "OTHER_DRUG_EN", "LEGIT_DRUG",
)

# --- menus, coded hospital ampoules and their counterparts (appended; see corpus.py) -----------
# New banks only: the banks above are never extended, so the rows drawn from them keep their text
# and split when the corpus is regenerated. The opioid names of the new banks sit at positions of
# the same split as the matching OPIOID_ES / OPIOID_EN item (e.g. metadona, meperidina, oxycontin
# at test positions), so no held-out drug name of the old banks is seen in training rows.
MENU_OPIOID_ES = [
    "percs de 10", "morfina 10 mg", "tramadol 100 mg", "metadona en frasco", "oxys de 30",
    "codeína en jarabe", "pastillas M30", "oxycontin 40", "percocet 5/325", "fenta en ampolla",
    "tramal en gotas", "meperidina 100", "oxicodona 20", "dilaudid 4 mg", "parches de fentanilo 50",
    "roxis de 30",
]
MENU_OPIOID_EN = [
    "perc 10s", "oxycodone 15s", "dillies 8mg", "roxy 30s", "hydros", "oxycontin 40s", "fetty",
    "black tar", "real codeine lean", "norco 10/325", "methadone wafers", "morphine 30s",
    "heroin bundles", "codeine promethazine", "oxy 80s", "subs 8mg",
]
MENU_OTHER_ES = [
    "xanax en barras", "clonazepam 2 mg", "rivotril", "alprazolam 1 mg", "cripy", "tusi rosado",
    "éxtasis", "ketamina", "viagra", "zolpidem", "adderall", "popper", "coca", "LSD", "diazepam 10",
    "hongos",
]
MENU_OTHER_EN = [
    "xanax bars", "klonopin", "adderall 30s", "molly", "carts", "valium 10s", "ketamine", "shrooms",
    "zaza", "coke", "addys", "green hulks", "vyvanse", "acid tabs", "edibles", "somas",
]
CODED_AMP_ES = [
    "las de 2 ml de almacén de hospital", "las ampollitas de sala de operaciones",
    "lo que usan los anestesiólogos", "las de caja de 50 que vienen de clínica", "las ampollas de quirófano",
    "las que ponen en UCI para sedar", "las de receta especial que no hay en botica",
    "las ampollitas de 10 ml de hospital", "lo que sale del almacén del hospital",
    "las que cuentan una por una en sala", "las de anestesia, selladas", "lo fuerte de la clínica",
    "las ampollas del Minsa", "lo que usan para dormir en cirugía", "las cajitas de Essalud",
    "lo de sala, las de 0.5 mg",
]
CODED_AMP_EN = [
    "the 2ml hospital vials", "the OR vials", "the stuff anesthesia uses", "the sealed hospital amps",
    "the ICU drip stuff", "the clinic boxes of 50", "what they push in surgery", "the hospital grade vials",
]
WINK_ES = [
    "ya saben cuál", "los que saben saben", "no pregunten qué es", "entendidos al privado",
    "el que sabe sabe 😉", "solo conocidos", "no pongo el nombre por aquí", "pregunten con confianza",
    "ustedes ya conocen", "sin nombres por aquí", "me entienden", "pa los entendidos",
]
AMP_LEGIT = [
    "ampollas capilares de biotina", "ampollas de vitamina C para el rostro", "ampollas de ácido hialurónico",
    "ampollas de colágeno", "ampollas de keratina para el cabello", "ampollas de minoxidil",
    "ampollas de complejo B bebible", "ampollas de vitamina B12", "ampollas de placenta para el cabello",
    "ampollas anticaída", "ampollas de niacinamida", "ampollas bebibles de magnesio",
    "ampollas de vitamina E", "ampollas de retinol", "ampollas de hierro bebible",
    "ampollas flash efecto lifting",
]
RX_OPIOID_ES = [
    "tramadol 50 mg", "morfina 10 mg/ml", "oxicodona 10 mg", "metadona 10 mg", "petidina 100 mg",
    "codeína 30 mg", "fentanilo 0.5 mg/10 ml", "oxycontin 20 mg", "tramadol con paracetamol",
    "remifentanilo 1 mg", "hidromorfona 2 mg", "meperidina", "buprenorfina en parche",
    "nalbufina 10 mg", "fentanilo transdérmico 25 mcg/h", "morfina de liberación prolongada",
]
RX_OPIOID_EN = [
    "hydrocodone/APAP", "oxycodone 10 mg", "methadone 10 mg", "morphine sulfate",
    "hydromorphone 2 mg", "codeine 30 mg", "fentanyl 25 mcg/h patches", "buprenorphine (Subutex)",
    "percocet 5/325", "oxycontin 20 mg", "tramadol 50 mg", "roxicodone 15 mg",
]
COURSE_ES = [
    "Diplomado", "Curso virtual", "Seminario", "Taller presencial", "Módulo", "Clase magistral",
    "Curso de actualización", "Programa de especialización", "Webinar", "Jornada académica",
    "Curso intensivo", "Certificación",
]
COURSE_EN = ["Online course", "Certificate program", "Seminar", "Workshop", "CE module", "Masterclass",
             "Evening class", "Bootcamp"]
AMP_ML = ["2 ml", "5 ml", "10 ml", "3 ml", "1 ml", "2ml", "10ml"]
FEE_ES = ["S/ {n}", "S/. {n}", "{n} soles", "S/{n}", "{n} soles pronto pago", "S/ {n} en dos cuotas",
          "S/ {n} por Yape", "{n} soles, estudiantes {n}"]
SPLIT_BANKS += (
    "MENU_OPIOID_ES", "MENU_OPIOID_EN", "MENU_OTHER_ES", "MENU_OTHER_EN", "CODED_AMP_ES", "CODED_AMP_EN",
    "WINK_ES", "AMP_LEGIT", "RX_OPIOID_ES", "RX_OPIOID_EN", "COURSE_ES", "COURSE_EN",
)

# --- coded patches and their counterparts (appended; see corpus.py) ---------------------------
# Positives: patches offered in fentanyl strengths (12, 25, 50, 75, 100 µg/h) without the drug's
# name; hard negatives: patches that are not opioids (nicotine, lidocaine, embroidered…) sold
# with the same sale language.
PATCH_DIM_ES = [
    "parchecitos", "parches", "parchitos", "parches transdérmicos", "parchecitos transdérmicos",
    "parches originales", "parchecitos sellados", "parches en sobre sellado",
]
PATCH_HINT_ES = [
    "de los que traje de la clínica", "de los que le daban a mi abuelo", "para dolor oncológico",
    "de los que dan en paliativos", "de los que recetan para el cáncer", "los fuertes de verdad",
    "de los que duran tres días", "los que ponen en la clínica", "para dolor crónico severo",
    "de los que no se consiguen en farmacia", "de los del seguro", "de los que dan en oncología",
]
PATCH_DOSE_ES = [
    "de 25 o 50", "de 50", "de 75", "de 12", "de 25", "de 100", "de 50 y 100", "25/50",
    "de 12 y 25", "de 75 y 100", "25 mcg/h", "50 mcg", "de 50 mcg/h", "de 12, 25 y 50",
]
LEGIT_PATCH_ES = [
    "parches de nicotina", "parches anticonceptivos", "parches bordados", "parches de lidocaína",
    "parches térmicos para la espalda", "parches de mentol", "parches para ojeras",
    "parches para el acné", "parches de diclofenaco", "parches termoadhesivos para ropa",
    "parches para llanta de bicicleta", "parches de calor para cólicos", "parches kinesiológicos",
    "parches de hidrogel para los ojos", "parches para el mareo", "parches de capsaicina",
]
LEGIT_PATCH_DOSE = ["de 7 mg", "de 14 mg", "de 21 mg", "de 5 cm", "de 10 x 14 cm", "de 700 mg",
                    "grandes y chicos", "en caja x 7", "de 8 horas", "de 12 horas"]
SPLIT_BANKS += ("PATCH_DIM_ES", "PATCH_HINT_ES", "LEGIT_PATCH_ES")
