#!/usr/bin/env bash
# Refresh locale/zh_Hans/LC_MESSAGES/django.po from the source and say what is left to translate.
#
#   scripts/update_translations.sh          # update the .po, compile it, list what needs work
#   scripts/update_translations.sh --check  # the same, and exit 1 if anything is left
#
# makemessages needs GNU gettext (apt-get install gettext); compiling uses our own
# `manage.py compile_po`, so the app itself never needs gettext. msgmerge marks a new string
# that resembles an old one as "fuzzy" with the old translation: review it, fix the msgstr and
# delete the "fuzzy" flag (fuzzy entries are not compiled, and tests/test_i18n.py fails on them).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
PO=locale/zh_Hans/LC_MESSAGES/django.po
export DJANGO_DEBUG=1

"$PYTHON" manage.py makemessages -l zh_Hans --no-location --no-obsolete
"$PYTHON" manage.py compile_po

stats=$(LC_ALL=C msgfmt --statistics -o /dev/null "$PO" 2>&1)
echo "$PO: $stats"
# msgattrib prints the header entry first whenever it prints anything: skip that paragraph.
list_entries() { LC_ALL=C msgattrib "$1" --no-obsolete --no-wrap "$PO" | awk 'BEGIN { RS = ""; ORS = "\n\n" } NR > 1'; }
untranslated=$(list_entries --untranslated | grep -c '^msgid ' || true)
fuzzy=$(list_entries --only-fuzzy | grep -c '^msgid ' || true)
echo "untranslated: $untranslated, fuzzy: $fuzzy"
if [ "$untranslated" -gt 0 ] || [ "$fuzzy" -gt 0 ]; then
  echo "--- entries to translate or review:"
  list_entries --untranslated
  list_entries --only-fuzzy
  [ "${1:-}" = "--check" ] && exit 1
fi
exit 0
