# Trusted 2PC participants (bank_a and bank_b share this code). Each keeps a
# txns table: PREPARED (holding a lock on the account), COMMITTED or ABORTED.
# prepare: new transfer -> lock + PREPARED + {"vote": "yes"}, or ABORTED + {"vote": "no", "reason"};
#          known transfer -> {"vote": "yes" if PREPARED else "no", "state"} and nothing changes.
# commit:  PREPARED -> apply the delta, unlock, COMMITTED; otherwise answer the state, change nothing.
# abort:   PREPARED -> unlock, ABORTED; unknown -> record ABORTED; COMMITTED stays COMMITTED.

from typing import Any

from saga_api import Context, Request


def participant_prepare(request: Request, ctx: Context) -> dict[str, Any]:
    xid = request.data["transfer_id"]
    change = request.data["changes"][ctx.service]
    with ctx.db.transaction() as tx:
        known = tx.get("txns", xid)
        if known:
            return {
                "vote": "yes" if known["state"] == "PREPARED" else "no",
                "state": known["state"],
            }
        account = tx.get("accounts", change["account"])
        if tx.get("refuse", xid):
            reason = "refused"  # permanent: this bank will not take part
        elif account["locked_by"]:
            reason = "locked"  # transient: another transfer holds the account
        elif account["balance"] + change["delta"] < 0:
            reason = "insufficient_funds"  # permanent for this transfer
        else:
            reason = None
        if reason:
            tx.insert("txns", xid, {"state": "ABORTED", "voted": "no", **change})
            return {"vote": "no", "reason": reason}
        tx.update("accounts", change["account"], locked_by=xid)
        tx.insert("txns", xid, {"state": "PREPARED", "voted": "yes", **change})
        return {"vote": "yes"}


def participant_commit(request: Request, ctx: Context) -> dict[str, Any]:
    xid = request.data["transfer_id"]
    with ctx.db.transaction() as tx:
        known = tx.get("txns", xid)
        if not known or known["state"] != "PREPARED":
            return {"state": known["state"] if known else "unknown"}
        account = tx.get("accounts", known["account"])
        tx.update(
            "accounts",
            known["account"],
            balance=account["balance"] + known["delta"],
            locked_by=None,
        )
        tx.update("txns", xid, state="COMMITTED")
        return {"state": "COMMITTED"}


def participant_abort(request: Request, ctx: Context) -> dict[str, Any]:
    xid = request.data["transfer_id"]
    change = request.data["changes"][ctx.service]
    with ctx.db.transaction() as tx:
        known = tx.get("txns", xid)
        if not known:
            tx.insert("txns", xid, {"state": "ABORTED", **change})  # a late prepare will vote no
            return {"state": "ABORTED"}
        if known["state"] == "PREPARED":
            tx.update("accounts", known["account"], locked_by=None)
            tx.update("txns", xid, state="ABORTED")
            return {"state": "ABORTED"}
        return {"state": known["state"]}
