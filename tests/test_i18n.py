"""The Chinese translation: complete, faithful to placeholders, compiled, and actually served."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from tests import factories
from tracker.management.commands.compile_po import parse_po, write_mo
from tracker.models import Project

PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"

# msgstrs that may legitimately contain no Chinese character (none so far).
WITHOUT_CHINESE = set()

PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>\w+)\))?[#0\- +]*\d*(?:\.\d+)?(?P<conv>[sdifrxXeEgGcoa%])"
)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def po_entries(text):
    """Every entry of a .po file, fuzzy and empty ones included (obsolete #~ ones skipped).

    Returns dicts with ``flags`` (set), ``msgid``, ``msgid_plural`` (or None) and
    ``msgstr`` (a list: one item, or one per plural form).
    """
    entries = []
    for block in re.split(r"\n\s*\n", text):
        flags, fields, key = set(), {}, None
        for line in block.splitlines():
            if line.startswith("#,"):
                flags |= {f.strip() for f in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                fields[key] += ast.literal_eval(line)
            elif line.strip():
                key, _, rest = line.partition(" ")
                fields[key] = ast.literal_eval(rest)
        if "msgid" not in fields or fields["msgid"] == "":
            continue
        msgstr = (
            [fields[k] for k in sorted(fields) if k.startswith("msgstr[")]
            if "msgid_plural" in fields
            else [fields.get("msgstr", "")]
        )
        entries.append(
            {
                "flags": flags,
                "msgid": fields["msgid"],
                "msgid_plural": fields.get("msgid_plural"),
                "msgstr": msgstr,
            }
        )
    return entries


def placeholders(text, *, python_format):
    """(sorted named placeholders with their conversion, positional conversions in order).

    Positional ones (%s, %d) only count in python-format entries, where a bare % cannot occur.
    """
    named, positional = [], []
    for match in PLACEHOLDER.finditer(text):
        if match.group() == "%%":
            continue
        if match.group("name"):
            named.append(f"%({match.group('name')}){match.group('conv')}")
        elif python_format:
            positional.append(match.group("conv"))
    return sorted(named), positional


@pytest.fixture(scope="module")
def entries():
    return po_entries(PO.read_text(encoding="utf-8"))


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogue():
    """Compile the .po like `make messages` does, then make Django reload its catalogues."""
    call_command("compile_po", verbosity=0)
    # Changing LOCALE_PATHS (even to the same value) drops Django's cached translations.
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
        yield


# --- the .po file ---------------------------------------------------------------------
def test_po_parser_sees_every_entry(entries):
    assert len(entries) > 300
    assert any(e["msgid_plural"] for e in entries)


def test_every_entry_is_translated_and_none_is_fuzzy(entries):
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    empty = [e["msgid"] for e in entries if not all(e["msgstr"]) or not e["msgstr"]]
    assert not fuzzy, f"fuzzy entries (review, then delete the flag): {fuzzy}"
    assert not empty, f"untranslated entries (run scripts/update_translations.sh): {empty}"


def test_every_entry_reaches_the_compiled_catalogue(entries):
    compiled = parse_po(PO.read_text(encoding="utf-8"))
    keys = [e["msgid"] + ("\0" + e["msgid_plural"] if e["msgid_plural"] else "") for e in entries]
    missing = [k for k in keys if k not in compiled]
    assert not missing, f"left out by compile_po: {missing}"
    assert "charset=UTF-8" in compiled.get("", ""), "the header must not be fuzzy"


def test_translations_are_chinese(entries):
    not_chinese = [
        (e["msgid"], s)
        for e in entries
        for s in e["msgstr"]
        if s and not CHINESE.search(s) and e["msgid"] not in WITHOUT_CHINESE
    ]
    assert not not_chinese, f"msgstr without a Chinese character: {not_chinese}"


def test_only_one_plural_form_for_chinese(entries):
    for e in entries:
        if e["msgid_plural"]:
            assert len(e["msgstr"]) == 1, e["msgid"]


def test_placeholders_are_kept(entries):
    wrong = []
    for e in entries:
        python_format = "python-format" in e["flags"]
        sources = [e["msgid"]] + ([e["msgid_plural"]] if e["msgid_plural"] else [])
        expected = {
            tuple(map(tuple, placeholders(s, python_format=python_format))) for s in sources
        }
        for msgstr in e["msgstr"]:
            got = tuple(map(tuple, placeholders(msgstr, python_format=python_format)))
            if got not in expected:
                wrong.append((e["msgid"], msgstr))
    assert not wrong, f"placeholders differ between msgid and msgstr: {wrong}"


def test_placeholder_check_can_fail():
    msgid = "Completed %(done)s of %(signed)s"
    assert placeholders(msgid, python_format=True) != placeholders(
        "完成 %(done)s，共 %(signd)s", python_format=True
    )
    assert placeholders(msgid, python_format=True) == placeholders(
        "共 %(signed)s，完成 %(done)s", python_format=True
    )
    assert placeholders("%d of %s", python_format=True) != placeholders(
        "%s 的 %d", python_format=True
    )
    assert placeholders("%(count)d done", python_format=True) != placeholders(
        "已完成 %(count)s", python_format=True
    )


# --- compilation ----------------------------------------------------------------------
def test_compile_po_writes_a_catalogue_gettext_reads(tmp_path):
    mo = tmp_path / "django.mo"
    write_mo(parse_po(PO.read_text(encoding="utf-8")), mo)
    with mo.open("rb") as fh:
        catalogue = gettext.GNUTranslations(fh)
    assert catalogue.gettext("project") == "项目"
    assert catalogue.gettext("signed amount (万元)") == "签约金额(万元)"
    assert catalogue.info()["language"] == "zh_Hans"
    moved = catalogue.ngettext(
        "%(count)d project moved to the new stage.",
        "%(count)d projects moved to the new stage.",
        3,
    )
    assert moved % {"count": 3} == "已将 3 个项目转入新状态。"


def test_django_serves_the_compiled_translation():
    assert PO.with_suffix(".mo").exists()
    with translation.override("zh-hans"):
        assert translation.gettext("project") == "项目"
        assert str(Project._meta.verbose_name) == "项目"
        assert str(Project._meta.get_field("responsible_leader").verbose_name) == "挂钩领导"
    with translation.override("en"):
        assert translation.gettext("project") == "project"


# --- pages ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_admin_login_page_is_chinese_by_default(client):
    response = client.get(reverse("admin:login"))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'lang="zh-hans"' in page
    assert "宜春市工业项目调度系统" in page
    assert "用户名" in page
    assert "Yichun industrial project tracker" not in page


@pytest.mark.django_db
def test_admin_login_page_is_english_with_the_language_cookie(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("admin:login")).content.decode()
    assert 'lang="en"' in page
    assert "Yichun industrial project tracker" in page
    assert "Username" in page
    assert "宜春市工业项目调度系统" not in page


@pytest.mark.django_db
def test_project_admin_is_chinese_and_switches_to_english(admin_client):
    factories.project(name="锂电池项目")
    changelist = reverse("admin:tracker_project_changelist")
    page = admin_client.get(changelist).content.decode()
    for label in ("项目编号", "签约金额(万元)", "县(市、区)", "产业链", "项目状态", "5020档次"):
        assert label in page, label
    assert "Signed amount" not in page

    response = admin_client.post(reverse("set_language"), {"language": "en", "next": changelist})
    assert response.status_code == 302
    page = admin_client.get(changelist).content.decode()
    for label in ("Project code", "Signed amount (万元)", "Region", "Industry chain", "Stage"):
        assert label in page, label
    assert "签约金额(万元)" not in page


@pytest.mark.django_db
def test_admin_strings_django_leaves_untranslated_are_filled_in(admin_client):
    """tracker/i18n_gaps.py covers what Django's own zh_Hans catalogue lacks."""
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "模型名称" in page
    assert "Model name" not in page
    with translation.override("zh-hans"):
        message = translation.ngettext(
            "This password is too short. It must contain at least %d character.",
            "This password is too short. It must contain at least %d characters.",
            8,
        )
    assert message % 8 == "密码太短，至少需要 8 个字符。"
