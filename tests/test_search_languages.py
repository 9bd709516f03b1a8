"""The library's search in each language, on SQLite and PostgreSQL: entries indexed with the
stemmer of their own language, words searched in every language, accents ignored, phrases;
and migration 0013, which indexes the entries a library already holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from bot import stemming
from bot.db import Database, upgrade
from bot.models import Base, KnowledgeEntry
from handlers.knowledge import library
from tests.databases import downgrade

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# (the adder's language, title, body); ids follow the order.
CORPUS = [
    ("en", "Participatory budgeting guide for small towns",
     "How residents vote on capital projects."),
    ("en", "Police overtime and staffing costs", "Why the audit did not pass.\nWe cut overtime."),
    ("en", "Revenue forecasting notes", "Notes from the finance committee on revenue."),
    ("es", "Presupuesto participativo en la ciudad",
     "Los vecinos deciden la financiación de las obras.\nCada barrio vota sus prioridades."),
    ("es", "Guía de financiación municipal", "Cómo se financian los servicios públicos."),
    ("fr", "Les dépenses des collectivités locales",
     "La fiscalité locale et les budgets participatifs."),
    ("pt", "Orçamento participativo nas cidades",
     "As licitações e a transparência das contas públicas."),
    ("en", "Guía para el presupuesto participativo de los barrios", "Un resumen en español."),
]  # fmt: skip
BUDGETING, POLICE, NOTES, PRESUPUESTO, FINANCIACION, DEPENSES, ORCAMENTO, GUIA = range(1, 9)


# the terms ---------------------------------------------------------------------------------


def test_a_text_is_stemmed_in_its_language_then_loses_its_accents():
    assert stemming.terms("Presupuestos: financiación", "es") == "es1presupuest es1financi"
    assert stemming.terms("financiacion", "es") == "es1financi"
    assert stemming.terms("Les dépenses", "fr") == "fr1depens"  # no common words
    assert stemming.terms("budgets, budgeting", "en") == "en1budget en1budget"
    # a French stem that differs without the accents follows the text's own terms
    assert stemming.terms("la fiscalité locale", "fr") == "fr1fiscal fr1local fr1fiscalit"
    assert stemming.terms("Budget", "de") == "en1budget"  # a language not indexed: English


def test_a_searched_word_has_a_form_in_every_language():
    assert stemming.query_forms("presupuestos") >= {"es1presupuest", "en1presupuesto"}
    assert stemming.query_forms("budgets") >= {"en1budget", "fr1budget"}
    assert {"fr1fiscal", "fr1fiscalit"} <= stemming.query_forms("fiscalité")
    assert "en1not" not in stemming.query_forms("notes")  # "not" is the French stem only
    said = "How do the cities fund la ciudad?"
    assert stemming.content_words(said) == ["cities", "fund", "ciudad"]  # no common words


@pytest.mark.parametrize(
    ("said", "default", "language"),
    [
        ("How do other cities plan a multi-year capital budget?", "fr", "en"),
        ("Guía para el presupuesto participativo", "en", "es"),
        ("Le budget participatif des villes et des communes", "en", "fr"),
        ("Orçamento participativo nas cidades", "en", "pt"),
        ("As licitações e a transparência das contas públicas", "es", "pt"),
        ("Multi-year budgeting toolkit", "fr", "fr"),  # nothing tells: the adder's language
        ("Budget", "pt_BR", "pt"),
        ("Budget", "de", "en"),
    ],
)
def test_a_text_tells_its_language_only_when_it_is_clear(said, default, language):
    assert stemming.detect(said, default) == language


# the search --------------------------------------------------------------------------------


@pytest.fixture
async def db(database_url) -> AsyncIterator[Database]:
    """The database, with the corpus added as the `resource add` command adds entries."""
    database = Database(database_url)
    async with database.sessions() as session:
        for n, (language, title, body) in enumerate(CORPUS):
            await library.add(
                session, title=title, body=body, now=NOW + timedelta(minutes=n), topic_ids=[],
                url=f"https://example.org/{n + 1}", language=language,
            )  # fmt: skip
        await session.commit()
    yield database
    await database.dispose()


async def found(db: Database, words: str) -> list[int]:
    return [hit.entry.id for hit in await db.read(library.search, words)]


@pytest.mark.parametrize(
    ("words", "entries"),
    [
        ("presupuestos", {PRESUPUESTO, GUIA}),
        ("budgets", {BUDGETING, DEPENSES}),  # and the French "budgets participatifs"
        ("financiacion", {PRESUPUESTO, FINANCIACION}),
        ("FINANCIACIÓN", {PRESUPUESTO, FINANCIACION}),
        ("dépense", {DEPENSES}),
        ("depenses", {DEPENSES}),
        ("fiscalite", {DEPENSES}),
        ("licitação", {ORCAMENTO}),
        ("orcamentos", {ORCAMENTO}),
        ("zebra presupuestos", {PRESUPUESTO, GUIA}),  # one word of several is enough
        ("the de la", set()),  # nothing but common words
    ],
)
async def test_a_word_finds_its_forms_in_every_language(db, words, entries):
    assert set(await found(db, words)) == entries


@pytest.mark.parametrize(
    ("words", "entries"),
    [
        ('"presupuesto participativo"', {GUIA, PRESUPUESTO}),
        ('"Presupuestos participativos"', {GUIA, PRESUPUESTO}),
        ('"orçamento participativo"', {ORCAMENTO}),
        ('"orcamento participativo"', {ORCAMENTO}),
        ('"financiacion municipal"', {FINANCIACION}),
        ('"participatory budgeting"', {BUDGETING}),
        ('"participativo presupuesto"', set()),  # the words, not in that order
        ('"presupuesto participativo en la ciudad"', {PRESUPUESTO}),  # common words aside
        ('"presupuesto participativo" resumen', {GUIA}),  # and one of the other words
        ('"presupuesto participativo" obras zebra', {PRESUPUESTO}),
        ('"presupuesto participativo" "small towns"', set()),  # every phrase must appear
    ],
)
async def test_a_phrase_must_appear_in_order(db, words, entries):
    assert set(await found(db, words)) == entries


@pytest.mark.parametrize(
    ("words", "entries"),
    [
        ("policies", set()),  # not "police": the French stem of "policies" is "polic"
        ("notes", {NOTES}),  # not "did not": the French stem of "notes" is "not"
        ("budgeting", {BUDGETING}),
        ("overtime", {POLICE}),
    ],
)
async def test_an_english_word_finds_no_unrelated_entry(db, words, entries):
    assert set(await found(db, words)) == entries


async def test_an_entry_is_in_the_language_its_words_tell_else_its_adders(db):
    async with db.sessions() as session:
        languages = dict(
            (await session.execute(select(KnowledgeEntry.id, KnowledgeEntry.language))).all()
        )
    assert languages == {
        BUDGETING: "en", POLICE: "en", NOTES: "en", PRESUPUESTO: "es", FINANCIACION: "es",
        DEPENSES: "fr", ORCAMENTO: "pt", GUIA: "es",  # added by an English speaker
    }  # fmt: skip


async def test_the_excerpt_is_the_line_holding_the_word(db):
    [hit] = await db.read(library.search, "votan")
    assert hit.excerpt == "Cada barrio vota sus prioridades."


async def test_a_question_finds_the_entry_that_may_answer_it_in_its_language(db):
    question = "¿Cómo financian las ciudades el presupuesto participativo?"
    hits = await db.read(library.similar, question)  # half its words in the guide's title
    assert [hit.entry.id for hit in hits] == [PRESUPUESTO, GUIA]
    hits = await db.read(library.similar, "How do small towns run participatory budgeting?")
    assert [hit.entry.id for hit in hits] == [BUDGETING]


async def test_an_entry_written_again_is_indexed_again(db):
    async with db.sessions() as session:
        entry = await session.get(KnowledgeEntry, FINANCIACION)
        entry.body = "Los impuestos locales."
        await session.commit()
    assert await found(db, "impuesto") == [FINANCIACION]
    assert await found(db, "servicios") == []
    async with db.sessions() as session:
        await session.delete(await session.get(KnowledgeEntry, FINANCIACION))
        await session.commit()
    assert await found(db, "impuesto") == []


# the migration -----------------------------------------------------------------------------


def _search(url: str, words: str) -> list[int]:
    engine = create_engine(url)
    with Session(engine) as session:
        ids = [hit.entry.id for hit in library.search(session, words)]
    engine.dispose()
    return ids


def _old_search(url: str, word: str) -> list[int]:
    """Migration 0007's index, stemmed by the database in English."""
    engine = create_engine(url)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            sql = "SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH :w ORDER BY rowid"
        else:
            sql = "SELECT id FROM knowledge_entries WHERE search @@ plainto_tsquery('english', :w)"
        ids = list(conn.scalars(text(sql), {"w": word}))
    engine.dispose()
    return ids


def test_migration_indexes_the_entries_in_their_language_and_back(empty_database):
    url = empty_database
    upgrade(url, "0012")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO knowledge_entries (id, title, body, created_at, shown, answered) "
                "VALUES (:id, :title, :body, :at, 0, 0)"
            ),
            [
                {"id": n, "title": title, "body": body, "at": NOW + timedelta(minutes=n)}
                for n, (_, title, body) in enumerate(CORPUS, start=1)
            ],
        )
        conn.execute(
            text(
                "INSERT INTO topics (id, name, key, keywords, created_at) "
                "VALUES (1, 'budgeting', 'budgeting', '', :at)"
            ),
            {"at": NOW},
        )
        conn.execute(text("INSERT INTO knowledge_topics (entry_id, topic_id) VALUES (1, 1)"))
    assert _old_search(url, "budgets") == [BUDGETING, DEPENSES]
    engine.dispose()

    upgrade(url)

    engine = create_engine(url)
    with engine.connect() as conn:
        languages = dict(conn.execute(text("SELECT id, language FROM knowledge_entries")).all())
        terms = conn.execute(
            text("SELECT title_terms FROM knowledge_entries WHERE id = :id"), {"id": PRESUPUESTO}
        ).scalar_one()
        diffs = [  # the index (FTS5 table, tsvector column) is not in the models
            diff
            for diff in map(repr, compare_metadata(conn))
            if any(key in diff for key in ("'language'", "title_terms", "body_terms"))
            and "knowledge_fts" not in diff
            and "Column('search'" not in diff
        ]
    engine.dispose()
    assert languages == {
        BUDGETING: "en", POLICE: "en", NOTES: "en", PRESUPUESTO: "es", FINANCIACION: "es",
        DEPENSES: "fr", ORCAMENTO: "pt", GUIA: "es",
    }  # fmt: skip
    assert terms == "es1presupuest es1particip es1ciud"
    assert diffs == []  # the migration builds what bot/models declares
    assert set(_search(url, "presupuestos")) == {PRESUPUESTO, GUIA}
    assert set(_search(url, "financiacion")) == {PRESUPUESTO, FINANCIACION}
    assert _search(url, '"participatory budgeting"') == [BUDGETING]

    downgrade(url, "0012")
    engine = create_engine(url)
    with engine.connect() as conn:
        columns = list(conn.execute(text("SELECT * FROM knowledge_entries")).keys())
        linked = conn.execute(text("SELECT count(*) FROM knowledge_topics")).scalar_one()
    engine.dispose()
    assert not {"language", "title_terms", "body_terms"} & set(columns)
    assert linked == 1  # nothing cascaded away
    assert _old_search(url, "budgets") == [BUDGETING, DEPENSES]

    upgrade(url)
    assert set(_search(url, "presupuestos")) == {PRESUPUESTO, GUIA}


def compare_metadata(conn) -> list:
    from alembic.autogenerate import compare_metadata

    return compare_metadata(MigrationContext.configure(conn), Base.metadata)
