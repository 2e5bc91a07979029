"""Password rules (OWASP ASVS L2 V2.1): 12 to 128 characters, not common, not like the person."""

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import (
    password_validators_help_texts,
    validate_password,
)
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from tests import factories
from tracker.choices import Role
from tracker.models import User
from tracker.seed.loader import read_json


def refusals(password, user=None):
    """The Chinese messages ``password`` is refused with (empty: accepted)."""
    with translation.override("zh-hans"):
        try:
            validate_password(password, user)
        except ValidationError as error:
            return error.messages
    return []


def test_yichun123_is_refused_as_too_short():
    assert refusals("yichun123") == ["密码太短，至少需要 12 个字符。"]


def test_twelve_characters_are_enough_and_eleven_are_not():
    assert refusals("Qx7-kp2!vLm9") == []
    assert refusals("Qx7-kp2!vLm") == ["密码太短，至少需要 12 个字符。"]


def test_up_to_128_characters_are_accepted():
    long_one = ("Qx7-kp2!vLm9" * 11)[:128]
    assert len(long_one) == 128 and refusals(long_one) == []
    assert refusals(long_one + "z") == ["密码太长，最多 128 个字符。"]


def test_one_repeated_character_is_refused():
    assert refusals("aaaaaaaaaaaa") == ["密码中不同的字符太少，至少需要 5 个不同的字符。"]
    assert refusals("abababababab") == ["密码中不同的字符太少，至少需要 5 个不同的字符。"]
    assert refusals("abcdabcdabcd") == ["密码中不同的字符太少，至少需要 5 个不同的字符。"]
    assert refusals("abcdeabcdeab") == []  # five different characters


def test_common_passwords_are_refused():
    assert refusals("1q2w3e4r5t6y") == ["这个密码太常见了。"]
    assert refusals("qwertyuiop123") == ["这个密码太常见了。"]


def test_all_digits_are_refused():
    assert "密码只包含数字。" in refusals("209384756102")


@pytest.mark.parametrize(
    ("person", "password", "label"),
    [
        ({"username": "yuanzhou"}, "yuanzhou-2022", "用户名"),
        ({"first_name": "Xiaoming"}, "xiaoming-2022", "名字"),
        ({"last_name": "Zhang"}, "zhang-2022-ok", "姓氏"),  # too short for Django's measure
        ({"first_name": "Na", "last_name": "Li"}, "nali-river-22", "姓名"),
        ({"first_name": "Na", "last_name": "Li"}, "LiNa-river-22", "姓名"),
        ({"display_name": "Chen Lihua"}, "lihua-river-22", "姓名"),
        ({"email": "wangfang@yichun.gov.cn"}, "Wangfang@2022", "电子邮件地址"),
    ],
)
def test_a_password_containing_the_persons_username_name_or_email_is_refused(
    person, password, label
):
    user = User(**{"username": "someone", **person})
    assert f"密码中不能含有{label}。" in refusals(password, user)
    assert refusals("Qx7-kp2!vLm9", user) == []


def test_a_password_much_like_the_username_is_refused():
    """Django's similarity measure: the same letters, rearranged."""
    assert refusals("zhouyuan2022", User(username="yuanzhou")) == ["密码跟 用户名 太相似了。"]


def test_the_email_domain_does_not_count():
    user = User(username="someone", email="wangfang@yichun.gov.cn")
    assert refusals(settings.DEMO_PASSWORD, user) == []


def test_short_name_parts_do_not_count():
    assert refusals("Liu-river-2022", User(username="someone", last_name="Liu")) == []


@pytest.mark.django_db
def test_the_seeded_demo_accounts_could_choose_the_demo_password():
    demo = read_json("demo_users.json")["users"]
    assert len(settings.DEMO_PASSWORD) == 16
    for spec in demo:
        user = User(username=spec["username"], display_name=spec["display_name"], unit=spec["unit"])
        assert refusals(settings.DEMO_PASSWORD, user) == [], spec["username"]


def test_the_factory_password_passes():
    assert refusals(factories.PASSWORD, User(username="user1")) == []


def test_the_help_texts_read_well_in_chinese():
    with translation.override("zh-hans"):
        texts = password_validators_help_texts()
    assert texts == [
        "您的密码不能与您的其他个人信息太相似。",
        "您的密码不能含有您的用户名、姓名或电子邮件地址。",
        "您的密码至少要包含 12 个字符。",
        "您的密码最多 128 个字符。",
        "您的密码不能是常见密码。",
        "您的密码不能全是数字。",
        "您的密码至少要用 5 个不同的字符。",
    ]


@pytest.mark.django_db
def test_the_password_change_page_applies_the_rules(client):
    user = factories.user(Role.COUNTY, username="yuanzhou")
    client.force_login(user)
    url = reverse("password_change")
    for weak in ("yichun123", "aaaaaaaaaaaa", "yuanzhou-2022", "x" * 129):
        response = client.post(
            url,
            {"old_password": factories.PASSWORD, "new_password1": weak, "new_password2": weak},
        )
        assert response.status_code == 200, weak
        assert response.context["form"].errors["new_password2"], weak
    user.refresh_from_db()
    assert user.check_password(factories.PASSWORD)
    good = "Qx7-kp2!vLm9"
    response = client.post(
        url, {"old_password": factories.PASSWORD, "new_password1": good, "new_password2": good}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(good)


@pytest.mark.django_db
def test_the_admin_applies_the_rules_when_a_manager_sets_a_password(admin_client):
    user = factories.user(Role.COUNTY, username="zhangshu")
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    response = admin_client.post(
        url, {"password1": "aaaaaaaaaaaa", "password2": "aaaaaaaaaaaa", "usable_password": "true"}
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(factories.PASSWORD)
