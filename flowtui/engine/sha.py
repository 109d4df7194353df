"""SHA-256 for the run store and the validation cache, without `import hashlib`.

hashlib loads OpenSSL on import (~4 ms), which costs more than a one-task flow takes to run; the
digests here are of a flow file, once per run. CPython's own SHA-256 (the one hashlib falls back
to without OpenSSL) loads in a fraction of that; hashlib is the fallback where it is missing.
"""


def _constructor():
    try:
        from _sha256 import sha256  # CPython 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # CPython 3.12+
        except ImportError:
            from hashlib import sha256
    return sha256


def sha256_hex(data: bytes) -> str:
    return _constructor()(data).hexdigest()


def file_sha256(path) -> str:
    with open(path, "rb") as handle:
        return sha256_hex(handle.read())
