"""A DATABASE_URL for another process (a server, a command) to reach a test database."""

from urllib.parse import quote


def postgres_url(settings_dict, name=None, **options):
    """``postgres://…`` for the server and user of ``settings_dict``, database ``name``."""
    credentials = quote(settings_dict["USER"])
    if settings_dict["PASSWORD"]:
        credentials += ":" + quote(settings_dict["PASSWORD"])
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or 5432
    query = "&".join(f"{key}={quote(str(value))}" for key, value in options.items())
    url = f"postgres://{credentials}@{host}:{port}/{quote(name or settings_dict['NAME'])}"
    return f"{url}?{query}" if query else url
