"""Executable claims: every `::: try` in a lesson is run, a false one stops the load with its
file and line, and its preset opens the playground with exactly that run."""

import html as html_lib
import re
import shutil
from io import StringIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from django.core.management import CommandError, call_command

from courseapp.lib import claims
from courseapp.lib.content import split_front_matter
from courseapp.lib.markdown import PLAYGROUND_MARKER
from exercises.models import Exercise
from lessons.models import Lesson
from sandbox import scenarios
from sandbox.invariants import INVARIANTS
from sandbox.playgrounds import PLAYGROUNDS

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons" / "content"


def _shipped_claims():
    """(file, line, Claim) for every claim in the lesson files, body and self-checks."""
    found = []
    for path in sorted(LESSONS.glob("*.md")):
        meta, body, body_line = split_front_matter(path)
        for offset, text in claims.find(body):
            found.append((path.name, body_line + offset, claims.parse(text)))
        for check in meta.get("self_check") or []:
            if check.get("try"):
                found.append((path.name, "self_check", claims.parse(check["try"])))
    return found


# -- the grammar ----------------------------------------------------------------------


def test_a_claim_names_a_playground_its_toggles_a_seed_and_one_outcome():
    claim = claims.parse("order-saga outbox=off relay_crash=on seed=7 breaks=no_lost_event")
    assert claim.playground == "order-saga"
    assert claim.toggles == (("outbox", False), ("relay_crash", True))
    assert claim.seed == 7 and claim.breaks == ("no_lost_event",) and not claim.holds
    assert claims.parse("order-saga holds").holds


def test_toggles_a_claim_leaves_out_keep_their_default_and_the_seed_is_the_pages():
    claim = claims.parse("order-saga payment_fails=on holds")
    defaults = {t["name"]: t["default"] for t in PLAYGROUNDS["order-saga"]["toggles"]}
    assert claim.settings() == {**defaults, "payment_fails": True}
    assert claim.seed == claims.DEFAULT_SEED


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "names a playground"),
        ("no-such-playground holds", "unknown playground"),
        ("order-saga hotel_fails=on holds", "has no toggle 'hotel_fails'"),
        ("order-saga outbox=maybe holds", "must be on or off"),
        ("order-saga outbox=on outbox=off holds", "given twice"),
        ("order-saga seed=-1 holds", "seed must be"),
        ("order-saga seed=100000 holds", "seed must be"),
        ("order-saga breaks=no_such_invariant", "unknown invariant"),
        ("order-saga", "exactly one of"),
        ("order-saga holds breaks=no_lost_event", "exactly one of"),
        ("order-saga relay_crash", "is not NAME=VALUE"),
        ("order-saga holds shows=a shows=b", "shows= is given twice"),
        ("order-saga holds shows=a,,b", "separated by commas"),
    ],
)
def test_a_claim_that_breaks_the_grammar_says_why(text, reason):
    with pytest.raises(claims.ClaimSyntaxError, match=re.escape(reason)):
        claims.parse(text)


def test_breaks_must_name_every_broken_invariant_and_nothing_else():
    # outbox off + publisher crash breaks no_lost_event and orders_resolve (lesson 1's ghost order)
    only_one = claims.parse("order-saga outbox=off relay_crash=on breaks=no_lost_event")
    reason = claims.check(only_one)
    assert reason and "breaks=no_lost_event,orders_resolve" in reason
    both = claims.parse("order-saga outbox=off relay_crash=on breaks=orders_resolve,no_lost_event")
    assert claims.check(both) is None
    assert "holds" in claims.check(claims.parse("order-saga breaks=no_lost_event"))


def test_shows_checks_that_the_runs_trace_has_each_word_the_prose_names():
    # Lesson 6: with the payment failing, the compensation releases the reservation
    shown = claims.parse("order-saga payment_fails=on holds shows=ReleaseStock,status=RELEASED")
    assert shown.shows == ("ReleaseStock", "status=RELEASED")
    assert claims.check(shown) is None
    # without the failure nothing is released, so the same words are missing
    calm = claims.parse("order-saga holds shows=ReleaseStock,status=CONFIRMED")
    reason = claims.check(calm)
    assert reason and "shows ReleaseStock, but" in reason  # status=CONFIRMED is there


# -- what ships -----------------------------------------------------------------------


def test_every_shipped_claim_holds():
    found = _shipped_claims()
    failures = [f"{name}:{line}: {claims.check(c)}" for name, line, c in found if claims.check(c)]
    assert not failures, "\n".join(failures)
    assert len(found) >= 40
    # every lesson states at least one run, and every embedded playground is the subject of one
    assert {name for name, _, _ in found} == {p.name for p in LESSONS.glob("*.md")}
    embedded = {
        match.group(1)
        for path in LESSONS.glob("*.md")
        for match in PLAYGROUND_MARKER.finditer(path.read_text())
    }
    assert {c.playground for _, _, c in found} == embedded
    assert any(not c.holds for _, _, c in found) and any(c.holds for _, _, c in found)


def test_lesson_ten_mistakes_and_self_check_state_their_runs_as_claims():
    meta, body, _ = split_front_matter(LESSONS / "10-design-procedure.md")
    mistakes = body.split("## Common mistakes", 1)[1].split("## Mini challenge", 1)[0]
    assert {c.playground for _, c in ((n, claims.parse(t)) for n, t in claims.find(mistakes))} >= {
        "order-saga",
        "travel-booking",
        "two-phase-commit",
        "retry-storm",
    }
    assert any(check.get("try") for check in meta["self_check"])
    # Watch-it-break prose names no run without its directive below it.
    assert mistakes.count("*Watch it break:*") <= len(list(claims.find(mistakes)))


@pytest.mark.django_db
def test_the_shipping_rule_has_the_graders_number_in_lesson_quiz_and_statement(content):
    scenario = scenarios.get("shipping_down")
    seconds = scenario.CHARGED_WITHOUT_SHIPMENT_MS // 1000
    deadline = scenario.ORDER_DEADLINE_MS // 1000
    lesson = (LESSONS / "10-design-procedure.md").read_text()
    assert f"more than {seconds} seconds" in lesson
    assert f"within {deadline} seconds" in lesson
    quiz = yaml.safe_load((ROOT / "quicktest" / "questions" / "design.yaml").read_text())
    shipping = [q for q in quiz if q["id"].startswith("design-shipping")]
    assert shipping and all(f"{seconds} seconds" in q["prompt"] for q in shipping)
    exercise = Exercise.objects.get(slug="shipping-down-challenge")
    statement = exercise.published_version.statement
    assert re.search(rf"more than\s+{scenario.CHARGED_WITHOUT_SHIPMENT_MS} ms", statement)


# -- load_content refuses a false claim ----------------------------------------------


@pytest.fixture
def lessons_copy(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(LESSONS, target)
    return target


def _expect_rejected(lessons_dir, *fragments):
    before = Lesson.objects.count()
    with pytest.raises(CommandError) as error:
        call_command(
            "load_content", "--lessons-dir", str(lessons_dir), stdout=StringIO(), stderr=StringIO()
        )
    for fragment in fragments:
        assert fragment in str(error.value)
    assert Lesson.objects.count() == before  # nothing half-loaded
    return str(error.value)


def _append(path: Path, text: str) -> int:
    """Append lines to a lesson; return the file line of the last one."""
    body = path.read_text()
    path.write_text(body + text)
    return (body + text).rstrip("\n").count("\n") + 1


@pytest.mark.django_db
def test_a_claim_that_does_not_hold_is_refused_with_its_file_and_line(lessons_copy):
    line = _append(
        lessons_copy / "04-transactional-outbox.md",
        "\nWith the outbox a relay crash invents an event:\n\n"
        "::: try order-saga relay_crash=on breaks=no_ghost_event\n",
    )
    message = _expect_rejected(
        lessons_copy, f"04-transactional-outbox.md:{line}:", "claim does not hold"
    )
    assert "breaks=no_ghost_event" in message and "shows holds" in message


@pytest.mark.django_db
def test_a_claim_that_should_hold_but_breaks_is_refused(lessons_copy):
    line = _append(
        lessons_copy / "09-operating-sagas.md", "\n::: try poison-message dlq=off holds\n"
    )
    _expect_rejected(
        lessons_copy,
        f"09-operating-sagas.md:{line}:",
        "breaks=no_lost_event,poison_isolated,settles",
    )


@pytest.mark.django_db
def test_a_claim_naming_a_toggle_the_playground_lacks_is_refused_with_its_line(lessons_copy):
    line = _append(
        lessons_copy / "02-idempotency-keys.md",
        "\n::: try idempotent-charge duplicate_delivery=on breaks=no_double_charge\n",
    )
    _expect_rejected(
        lessons_copy, f"02-idempotency-keys.md:{line}:", "has no toggle 'duplicate_delivery'"
    )


@pytest.mark.django_db
def test_a_false_self_check_claim_is_refused_with_its_front_matter_line(lessons_copy):
    path = lessons_copy / "10-design-procedure.md"
    text = path.read_text()
    wrong = "try: order-saga outbox=off crash_after_commit=on breaks=no_ghost_event"
    text = re.sub(r"try: order-saga outbox=off relay_crash=on [^\n]*", wrong, text, count=1)
    path.write_text(text)
    line = text[: text.index(wrong)].count("\n") + 1
    _expect_rejected(lessons_copy, f"10-design-procedure.md:{line}:", "claim does not hold")


@pytest.mark.django_db
def test_a_claim_on_a_playground_no_lesson_embeds_is_refused(lessons_copy):
    path = lessons_copy / "02-idempotency-keys.md"
    text = path.read_text().replace("::: playground idempotent-charge\n", "")
    path.write_text(text.replace("playgrounds: [idempotent-charge]", "playgrounds: []"))
    _expect_rejected(lessons_copy, "02-idempotency-keys.md:", "which no lesson embeds")


# -- the page: a preset per claim ------------------------------------------------------

_PRESET = re.compile(r'<a class="[^"]*claim-preset[^"]*" href="([^"]+)">')


def _panel(html: str, key: str) -> str:
    start = html.index(f'<section class="playground" id="playground-{key}"')
    return html[start : html.index("</section>", start)]


def _broken_titles(panel: str) -> set[str]:
    return set(
        re.findall(r'<span class="badge broken">broken</span>\s*<strong>([^<]+)</strong>', panel)
    )


@pytest.mark.django_db
def test_each_claim_is_shown_as_a_preset_with_the_expected_result(client, content):
    for lesson in Lesson.objects.all():
        html = client.get(lesson.get_absolute_url()).content.decode()
        body_claims = claims.parse_all(lesson.body)
        with_try = [c for c in lesson.self_check if c.get("try")]
        presets = _PRESET.findall(html)
        assert len(presets) == len(body_claims) + len(with_try), lesson.slug
        for claim in body_claims:
            for invariant in claim.breaks:
                assert INVARIANTS[invariant].title in html


@pytest.mark.django_db
def test_the_preset_link_opens_the_playground_with_those_toggles_and_seed(client, content):
    opened = 0
    for lesson in Lesson.objects.all():
        html = client.get(lesson.get_absolute_url()).content.decode()
        every = [*claims.parse_all(lesson.body)]
        every += [claims.parse(c["try"]) for c in lesson.self_check if c.get("try")]
        for claim, href in zip(every, _PRESET.findall(html), strict=True):
            url = urlsplit(html_lib.unescape(href))
            assert url.fragment == f"playground-{claim.playground}"
            assert parse_qs(url.query)["seed"] == [str(claim.seed)]
            target = Lesson.objects.get(slug=url.path.strip("/").split("/")[-1])
            assert claim.playground in target.playgrounds
            if claim.playground in lesson.playgrounds:
                assert target == lesson
            page = client.get(f"{url.path}?{url.query}")  # a plain GET: no JavaScript needed
            assert page.status_code == 200
            panel = _panel(page.content.decode(), claim.playground)
            checked = set(re.findall(r'name="([a-z_]+)" checked', panel))
            assert checked == {name for name, on in claim.settings().items() if on}
            assert f'name="seed" min="0" max="{claims.MAX_SEED}" value="{claim.seed}"' in panel
            expected = {INVARIANTS[name].title for name in claim.breaks}
            assert _broken_titles(panel) == expected, (lesson.slug, claim.text)
            assert ("Every invariant held." in panel) == claim.holds
            opened += 1
    assert opened >= 40


@pytest.mark.django_db
def test_lesson_ten_presets_open_the_playground_in_the_lesson_that_embeds_it(client, content):
    html = client.get("/lessons/design-procedure/").content.decode()
    hrefs = [html_lib.unescape(h) for h in _PRESET.findall(html)]
    assert any(h.startswith("/lessons/two-phase-commit/?") for h in hrefs)
    assert any(h.startswith("/lessons/retries-and-backoff/?") for h in hrefs)
    assert any(h.startswith("/lessons/design-procedure/?") for h in hrefs)
    assert "opens in the lesson" in html


def test_claims_are_found_in_order_with_their_lines():
    body = "Intro\n\n::: try order-saga holds\n\ntext\n\n::: try retry-storm cap=off breaks=retries_bounded_and_spread\n"
    assert [c.playground for c in claims.parse_all(body)] == ["order-saga", "retry-storm"]
    assert [line for line, _ in claims.find(body)] == [2, 6]


# -- a lesson can start its playground elsewhere than the defaults -----------------------


@pytest.mark.django_db
def test_the_shipping_challenge_starts_by_showing_the_problem_without_naming_the_fix(
    client, content
):
    panel = _panel(client.get("/lessons/design-procedure/").content.decode(), "shipping-down")
    assert 'name="authorize_first" >' in panel or 'name="authorize_first">' in panel
    assert _broken_titles(panel) >= {INVARIANTS["no_charge_without_shipment"].title}
    labels = " ".join(t["label"] + t["help"] for t in PLAYGROUNDS["shipping-down"]["toggles"])
    assert not re.search(r"authori[sz]|hold|void", labels, re.I)


@pytest.mark.django_db
def test_a_claim_must_name_the_toggles_its_lesson_starts_the_playground_with(lessons_copy):
    path = lessons_copy / "10-design-procedure.md"
    line = _append(path, "\n::: try shipping-down long_outage=off holds\n")
    _expect_rejected(
        lessons_copy, f"10-design-procedure.md:{line}:", "starts playground 'shipping-down' with"
    )


@pytest.mark.django_db
def test_an_embedded_playground_with_an_unknown_toggle_is_refused_with_its_line(lessons_copy):
    path = lessons_copy / "09-operating-sagas.md"
    text = path.read_text().replace(
        "::: playground poison-message\n", "::: playground poison-message outbox=off\n"
    )
    path.write_text(text)
    line = text[: text.index("::: playground poison-message")].count("\n") + 1
    _expect_rejected(lessons_copy, f"09-operating-sagas.md:{line}:", "has no toggle 'outbox'")
