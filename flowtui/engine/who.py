"""Who is acting: recorded with every run started and every approval, rejection or control command."""

import os


def current_user() -> str:
    """The login name ($USER, $LOGNAME, else the password database), else the numeric uid."""
    name = os.environ.get("USER") or os.environ.get("LOGNAME")
    if name:
        return name
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # no passwd entry (some containers)
        return str(os.getuid())
