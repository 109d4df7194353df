"""The `fetch` task (§8.2): download into a shared cache, verify the checksum, link into the workspace.

The download runs on a worker thread; its output and result return through the reactor.
"""

import os
import shutil
from urllib.parse import urlparse

from .expand import expand_env

ALGORITHMS = ("sha256", "sha1", "md5")
DOWNLOAD_FAILED = 255  # not an error: `task.<id>.bad`, as on Floe's git-flow-file branch


def link_location(location, name):
    """Floe's `linkLocation` ([BRANCH]): empty or a dir ending in `/` gets the file name; relative is under ws."""
    if not location:
        location = "{{ws}}/" + name
    elif location.endswith("/"):
        location += name
    if not location.startswith(("/", "{{ws}}", "./", "$")):
        location = "{{ws}}/" + location
    return location


def plan(opts, ws, cache_dir):
    """A job dict for `run_in_thread`, or an error text (Floe's `task.<id>.error`)."""
    url = opts.get("url")
    if not url or not isinstance(url, str):
        return "fetch needs a `url`"
    checksum = str(opts.get("checksum") or "").strip().split(" ")[0]
    algo = str(opts.get("checksum-algo") or "")
    if checksum:
        if algo not in ALGORITHMS:
            return f"unknown checksum-algo {algo!r}: use sha256, sha1 or md5"
        try:
            bytes.fromhex(checksum)
        except ValueError:
            return f"checksum {checksum!r} is not hexadecimal"
    name = os.path.basename(urlparse(url).path) or "download"
    target = expand_env(link_location(str(opts.get("location") or ""), name), ws)
    return {"url": url, "checksum": checksum.lower(), "algo": algo, "cached": os.path.join(cache_dir, name),
            "target": target}


def digest_of(path, algo):
    import hashlib  # only for fetches with a checksum: not on every Floe run's start-up

    hasher = hashlib.new(algo)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def fetch_file(job, say):
    """Do the work; returns (exit status, error text or None). `say(line)` reports progress."""
    from urllib.request import urlopen

    cached, checksum, algo = job["cached"], job["checksum"], job["algo"]
    if not checksum:
        say("no checksum given: the download is not verified")
    reuse = checksum and os.path.isfile(cached) and digest_of(cached, algo) == checksum
    if reuse:
        say(f"using the cached {cached}")
    else:
        url = job["url"]
        if urlparse(url).scheme == "":
            url = "file://" + os.path.abspath(url)
        say(f"downloading {job['url']}")
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        import tempfile

        fd, part = tempfile.mkstemp(dir=os.path.dirname(cached), prefix=".part-")
        try:
            with urlopen(url, timeout=300) as response, os.fdopen(fd, "wb") as out:  # noqa: S310
                shutil.copyfileobj(response, out)
            os.replace(part, cached)
        except (OSError, ValueError) as exc:
            if os.path.exists(part):
                os.remove(part)
            return DOWNLOAD_FAILED, f"download failed: {exc}"
        if checksum:
            actual = digest_of(cached, algo)
            if actual != checksum:
                os.remove(cached)
                return DOWNLOAD_FAILED, f"{algo} checksum mismatch: expected {checksum}, got {actual}"
    target = job["target"]
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    if os.path.lexists(target):
        os.remove(target)
    try:
        os.link(cached, target)
    except OSError:  # another filesystem: copy instead of a hard link
        shutil.copy2(cached, target)
    say(f"linked {target}")
    return 0, None


def run_in_thread(ctx, job):
    import threading

    reactor = ctx.reactor

    def say(line):
        reactor.call_threadsafe(ctx.output, "stdout", [line])

    def work():
        try:
            code, error = fetch_file(job, say)
        except OSError as exc:
            code, error = DOWNLOAD_FAILED, str(exc)
        if error:
            say(error)
        reactor.call_threadsafe(lambda: ctx.done(code, output={}, error=error))

    ctx.on_cancel(lambda: ctx.done(1, error="cancelled during the download"))
    threading.Thread(target=work, name=f"fetch {ctx.node.id}", daemon=True).start()
