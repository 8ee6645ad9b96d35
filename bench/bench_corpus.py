"""Benchmark inputs: a reproducible synthetic news corpus and subsets of the MultiHop-RAG data.

The synthetic corpus is made of short news briefs (one chunk each) combined from word lists and
sentence templates with a seeded generator, so every brief differs and the same seed always gives
the same corpus. Its questions are asked about facts of randomly chosen briefs.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


FIRST = _words(
    "Amira Ana Bruno Carla Dmitri Elena Farid Grace Hiro Ines Jonas Kemal Laila Marco Nadia "
    "Omar Priya Quentin Rosa Samuel Tariq Uma Victor Wen Ximena Yusuf Zoe Aiko Bilal Chiara "
    "Diego Esther Felix Hana Ivan Julia Kofi Lucia Mateo Nora"
)
LAST = _words(
    "Haddad Novak Okafor Lindqvist Moreau Tanaka Rossi Kowalski Mensah Alvarez Petrov Nguyen "
    "Schmidt Dubois Costa Yilmaz Kim Fischer Romero Ivanova Sato Baker Demir Silva Muller Ali "
    "Chen Ortiz Walsh Kaur Berger Santos Larsen Ahmadi Murphy Rahman Weber Conti Park Hughes"
)
PLACES = _words(
    "Lisbon Nairobi Osaka Quito Tbilisi Rotterdam Accra Hanoi Bergen Cordoba Izmir Perth Lyon "
    "Krakow Dakar Busan Porto Tampere Valencia Mombasa Leipzig Cusco Tromso Sapporo Gdansk "
    "Antwerp Kigali Bilbao Medan Plovdiv Rosario Tallinn Fukuoka Malmo Arequipa Seville Bremen "
    "Kumasi Danang Graz"
)
ORGS = _words(
    "the port authority|the national rail operator|the central bank|the health ministry|"
    "a regional water utility|the city council|a solar panel maker|the teachers' union|"
    "a chip designer|the space agency|an insurance group|the football federation|"
    "a wind farm developer|the consumer watchdog|a pharmaceutical company|the airport operator|"
    "the meteorological office|a shipping line|the competition regulator|a battery startup|"
    "the statistics office|a hospital network|the electoral commission|a streaming service|"
    "the housing agency|a steel producer|the fisheries board|a telecom carrier|the museum trust|"
    "the coast guard",
    sep="|",
)
TOPICS = _words(
    "flood defences|ticket prices|interest rates|vaccine supplies|drinking water quality|"
    "school funding|export tariffs|a data breach|rocket engine tests|storm damage claims|"
    "stadium safety|offshore turbines|food labelling|drug trial results|runway expansion|"
    "heatwave warnings|container backlogs|a merger review|recycling targets|wage talks|"
    "inflation figures|emergency room waits|voter registration|subscription fees|rent caps|"
    "carbon permits|fishing quotas|network outages|art restitution|search and rescue drills|"
    "bridge repairs|cyber security audits|crop yields|bus electrification|pension reform|"
    "satellite launches|coral bleaching|grid capacity|air quality alerts|youth unemployment",
    sep="|",
)
VERBS = _words(
    "announced|postponed|defended|criticised|approved|rejected|launched|reviewed|expanded|"
    "suspended|confirmed|denied|proposed|completed|funded|investigated|cancelled|restored",
    sep="|",
)
OUTLETS = _words(
    "Harbour Times|Northern Ledger|Daily Meridian|Coastline Post|Metro Dispatch|Valley Herald|"
    "Capital Wire|Evening Signal|Plains Courier|Island Gazette|Summit Review|Delta Journal|"
    "Frontier Press|Lakeside Echo|Union Bulletin|Orbit Weekly|Market Observer|Civic Record",
    sep="|",
)
TEMPLATES = (
    "{org} {verb} plans on {topic} in {place} on {day}, officials said.",
    "{person}, a spokesperson for {org}, said the decision on {topic} would affect about "
    "{n} residents of {place}.",
    "According to {person}, {org} spent {money} million on {topic} over the past {k} years.",
    "Critics in {place} argued that {topic} had been neglected since {year}.",
    "The move follows a {pct} percent rise in complaints about {topic} reported by {org}.",
    "{person} told reporters in {place} that talks on {topic} would resume within {k} weeks.",
    "A report by {org} found that {pct} percent of households in {place} were affected by {topic}.",
    "Local groups welcomed the plan, but {person} warned that {topic} could cost {money} "
    "million more than expected.",
    "{org} said it had {verb} a pilot scheme in {place} covering {n} sites.",
    "The vote on {topic} passed by {k} to {k2} after a debate lasting {k3} hours in {place}.",
    "Investigators from {org} {verb} claims that {topic} had been mismanaged in {place}.",
    "Figures released on {day} show {topic} improved for the {ordinal} month in a row.",
)
ORDINALS = _words("second third fourth fifth sixth seventh eighth ninth tenth")
_START = dt.date(2022, 1, 1)


def _brief(rng: random.Random, n: int) -> dict:
    """One synthetic article: a headline and three to five sentences about one story."""
    place, org, topic = rng.choice(PLACES), rng.choice(ORGS), rng.choice(TOPICS)
    person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    day = _START + dt.timedelta(days=rng.randrange(0, 900))
    facts = {
        "place": place,
        "org": org,
        "topic": topic,
        "person": person,
        "day": f"{day:%B} {day.day}",
        "year": str(rng.randrange(2005, 2022)),
        "verb": rng.choice(VERBS),
        "n": f"{rng.randrange(200, 90000):,}",
        "money": f"{rng.randrange(2, 900)}.{rng.randrange(10)}",
        "pct": str(rng.randrange(3, 80)),
        "k": str(rng.randrange(2, 12)),
        "k2": str(rng.randrange(1, 9)),
        "k3": str(rng.randrange(2, 15)),
        "ordinal": rng.choice(ORDINALS),
    }
    sentences = [t.format(**facts) for t in rng.sample(TEMPLATES, rng.randrange(3, 6))]
    body = " ".join(s[0].upper() + s[1:] for s in sentences)
    title = f"{org[0].upper() + org[1:]} {facts['verb']} {topic} plans in {place}"
    return {
        "id": f"syn-{n:07d}",
        "title": title,
        "source": rng.choice(OUTLETS),
        "published_at": f"{day.isoformat()}T09:00:00+00:00",
        "body": body,
        "facts": facts,
    }


def write_synthetic(path: Path, articles: int, *, seed: int = 7, skip_last: int = 0) -> None:
    """Write ``articles`` briefs as JSONL (the first ``articles - skip_last`` of them)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for n in range(articles):
            item = _brief(rng, n)
            if n < articles - skip_last:
                item.pop("facts")
                fh.write(json.dumps(item) + "\n")


def synthetic_questions(articles: int, count: int, *, seed: int = 7) -> list[str]:
    """Questions about the facts of ``count`` briefs spread over the corpus."""
    rng = random.Random(seed)
    wanted = set(random.Random(seed + 1).sample(range(articles), min(count, articles)))
    shapes = (
        "What did {person} say about {topic} in {place}?",
        "How much did {org} spend on {topic}?",
        "Why did {org} decide on {topic} in {place}?",
        "When were plans on {topic} in {place} {verb}?",
        "Who spoke for {org} about {topic}?",
    )
    out = []
    for n in range(articles):
        item = _brief(rng, n)
        if n in wanted:
            out.append(rng.choice(shapes).format(**item["facts"]))
    return out


def write_news(source: Path, dest: Path, *, skip_last: int = 0) -> int:
    """Copy the news JSONL to a scratch file, leaving out the last ``skip_last`` articles."""
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    keep = lines[: len(lines) - skip_last] if skip_last else lines
    dest.write_text("\n".join(keep) + "\n", encoding="utf-8")
    return len(keep)


def news_questions(path: Path, count: int) -> list[str]:
    """The first ``count`` questions of the MultiHop-RAG dev file."""
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            questions.append(json.loads(line)["question"])
    return questions[:count]
