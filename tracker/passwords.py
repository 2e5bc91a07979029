"""Password rules of our own, beside Django's (settings.AUTH_PASSWORD_VALIDATORS).

Django checks the minimum length, the common-password list, similarity to the username,
name and e-mail, and all-digit passwords. Three rules are missing there: an upper bound on
the length (OWASP ASVS 2.1.2 accepts up to 128 characters, and no more need be hashed), a
floor on variety (``aaaaaaaaaaaa`` is long enough and in no common list), and a name
*inside* a password: Django's similarity measure compares lengths too, so with twelve
characters at least it lets ``zhang-2022-ok`` pass for a user named Zhang.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext, ngettext_lazy


class MaximumLengthValidator:
    """Refuse passwords longer than ``max_length`` characters (128 by default)."""

    def __init__(self, max_length=128):
        self.max_length = max_length

    def validate(self, password, user=None):
        if len(password) > self.max_length:
            raise ValidationError(
                ngettext(
                    "This password is too long: at most %(max_length)d character.",
                    "This password is too long: at most %(max_length)d characters.",
                    self.max_length,
                ),
                code="password_too_long",
                params={"max_length": self.max_length},
            )

    def get_help_text(self):
        return ngettext(
            "Your password can have at most %(max_length)d character.",
            "Your password can have at most %(max_length)d characters.",
            self.max_length,
        ) % {"max_length": self.max_length}


class PersonalInformationValidator:
    """Refuse passwords that contain the username, the name, the first or last name or the
    e-mail.

    Each of them, its parts (split at anything not a letter or digit) and the full name in
    either order count when they have at least ``min_length`` characters, case ignored. Of
    the e-mail only the part before the @ counts: the domain is everybody's.
    """

    ATTRIBUTES = ("username", "display_name", "first_name", "last_name", "email")

    def __init__(self, min_length=4):
        self.min_length = min_length

    def _words(self, user):
        """(what it is, word) pairs."""
        for attribute in self.ATTRIBUTES:
            value = (getattr(user, attribute, "") or "").lower()
            if attribute == "email":
                value = value.partition("@")[0]
            label = user._meta.get_field(attribute).verbose_name
            for word in [value, *re.split(r"\W+", value)]:
                yield label, word
        first, last = (user.first_name or "").lower(), (user.last_name or "").lower()
        yield _("full name"), first + last
        yield _("full name"), last + first

    def validate(self, password, user=None):
        if user is None:
            return
        password = password.lower()
        for label, word in self._words(user):
            if len(word) >= self.min_length and word in password:
                raise ValidationError(
                    _("This password contains the %(verbose_name)s."),
                    code="password_contains_personal_information",
                    params={"verbose_name": label},
                )

    def get_help_text(self):
        return _("Your password can’t contain your username, name or e-mail address.")


class CharacterVarietyValidator:
    """Refuse passwords made of fewer than ``min_distinct`` different characters.

    Catches repetitions such as ``aaaaaaaaaaaa`` or ``abababababab``, which NIST SP 800-63B
    lists among the passwords to refuse, without demanding digits or capitals.
    """

    def __init__(self, min_distinct=5):
        self.min_distinct = min_distinct

    def validate(self, password, user=None):
        if len(set(password)) < self.min_distinct:
            raise ValidationError(
                ngettext(
                    "This password has too few different characters: it must use at least "
                    "%(min_distinct)d.",
                    "This password has too few different characters: it must use at least "
                    "%(min_distinct)d.",
                    self.min_distinct,
                ),
                code="password_too_repetitive",
                params={"min_distinct": self.min_distinct},
            )

    def get_help_text(self):
        return ngettext(
            "Your password must use at least %(min_distinct)d different character.",
            "Your password must use at least %(min_distinct)d different characters.",
            self.min_distinct,
        ) % {"min_distinct": self.min_distinct}


# Django's own zh_Hans catalogue words the rules' help texts with 你; the rest of the site
# says 您. Listing them here keeps them in our catalogue, which rewords them.
DJANGO_WORDING = (
    gettext_noop("Your password can’t be too similar to your other personal information."),
    gettext_noop("Your password can’t be a commonly used password."),
    gettext_noop("Your password can’t be entirely numeric."),
    ngettext_lazy(
        "Your password must contain at least %(min_length)d character.",
        "Your password must contain at least %(min_length)d characters.",
        1,
    ),
)
