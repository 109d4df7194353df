"""Floe id and name normalisation (`zeroNID`, config/node.go), shared by flows and nodes."""


class IdError(ValueError):
    """The id/name pair is invalid; the message is Floe's own."""


def normalise(node_id, name):
    """Return (id, name) as Floe derives them, or raise IdError.

    Ids are lowercased; a missing id comes from the name (each space and dot becomes `-`); a
    missing name comes from the id (each `-` becomes a space).
    """
    name = (name or "").strip(" .-")
    node_id = (node_id or "").strip(" .-").lower()
    if not node_id and not name:
        raise IdError("id and name can not both be empty")
    if not node_id:
        node_id = name.strip().lower().replace(" ", "-").replace(".", "-")
    if " " in node_id or "." in node_id:
        raise IdError("a specified id can not contain spaces or full stops")
    if not name:
        name = node_id.lower().replace("-", " ")
    return node_id, name
