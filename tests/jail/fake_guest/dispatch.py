"""Test-only stand-in for sandbox/guest/dispatch.py (owned by the simulator).

handle(ns, req, cb): call ns[req["fn"]](*req.get("args", [])), giving the
function the callback if it asks for one, and return {"value": ...}.
Learner exceptions (Exception) become {"error": ...}, like the real one.
"""


def handle(namespace, request, callback):
    fn = namespace[request["fn"]]
    args = list(request.get("args", []))
    if request.get("with_callback"):
        args.append(callback)
    try:
        return {"value": fn(*args)}
    except Exception as exc:  # noqa: BLE001
        return {"error": {"type": type(exc).__name__, "message": str(exc)}}
