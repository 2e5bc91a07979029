"""Compile locale/*/LC_MESSAGES/*.po into .mo files without GNU gettext.

``manage.py compilemessages`` needs msgfmt, which a bare machine may lack; the .mo
format is simple enough to write here (the .mo files themselves are not committed).
"""

import ast
import struct
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def parse_po(text):
    """Return {msgid: msgstr} (plural forms joined by NUL, contexts by EOT), fuzzy skipped."""
    entries, current, key, fuzzy = {}, {}, None, False

    def flush():
        nonlocal current, fuzzy
        if "msgid" in current and not fuzzy:
            msgid = current["msgid"]
            if "msgid_plural" in current:
                msgid += "\0" + current["msgid_plural"]
                plurals = sorted(k for k in current if k.startswith("msgstr["))
                msgstr = "\0".join(current[k] for k in plurals)
            else:
                msgstr = current.get("msgstr", "")
            if "msgctxt" in current:
                msgid = current["msgctxt"] + "\x04" + msgid
            if msgstr.replace("\0", "") or msgid == "":
                entries[msgid] = msgstr
        current, fuzzy = {}, False

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#,") and "fuzzy" in line:
            if "msgid" in current:
                flush()
            fuzzy = True
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            if key is None:
                raise CommandError(f"continuation line without a keyword: {raw!r}")
            current[key] += ast.literal_eval(line)
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == "msgid" and "msgid" in current:
            saved_fuzzy = fuzzy
            fuzzy = False
            if "msgstr" in current or any(k.startswith("msgstr[") for k in current):
                flush()
            fuzzy = saved_fuzzy
        if keyword == "msgctxt" and "msgid" in current:
            flush()
        key = keyword
        current[key] = ast.literal_eval(rest)
    flush()
    return entries


def write_mo(entries, path):
    keys = sorted(entries)
    ids = [k.encode() for k in keys]
    strs = [entries[k].encode() for k in keys]
    count = len(keys)
    header_size = 7 * 4
    ids_table = header_size
    strs_table = ids_table + count * 8
    data_start = strs_table + count * 8
    offsets, data = [], b""
    for blob in ids:
        offsets.append((len(blob), data_start + len(data)))
        data += blob + b"\0"
    str_offsets = []
    for blob in strs:
        str_offsets.append((len(blob), data_start + len(data)))
        data += blob + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, count, ids_table, strs_table, 0, 0)
    for length, offset in offsets + str_offsets:
        out += struct.pack("<2I", length, offset)
    path.write_bytes(out + data)


class Command(BaseCommand):
    help = "Compile the project's .po translation files into .mo files (no gettext needed)."

    def handle(self, *args, **options):
        count = 0
        for locale_dir in settings.LOCALE_PATHS:
            for po in Path(locale_dir).glob("*/LC_MESSAGES/*.po"):
                write_mo(parse_po(po.read_text(encoding="utf-8")), po.with_suffix(".mo"))
                count += 1
        self.stdout.write(f"compiled {count} translation file(s)")
