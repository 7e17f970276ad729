"""The one Kubernetes call the operator makes itself: deleting a WorkflowRun whose TTL ran out.

kopf makes every other call (watch, patch, events) and has no public verb to delete an object,
so this uses kopf's own authenticated API client (`kopf._cogs.clients.api`, pinned by the
`kopf>=1.45,<1.46` dependency and exercised by the TTL test). Going through it keeps a single
set of credentials: whatever kopf logged in with (service account, kubeconfig, a test's login
handler), with its re-authentication and retries. Deletion is not the end of the run: the
finalizer then terminates and purges the instance like for any other delete.
"""

from __future__ import annotations

import kopf
from kopf._cogs.clients import api, errors
from kopf._cogs.structs.references import NamespaceName


async def delete_object(
    resource: kopf.Resource,
    namespace: str | None,
    name: str,
    *,
    uid: str | None,
    settings: kopf.OperatorSettings,
    logger: kopf.Logger,
) -> bool:
    """Deletes one object; False when it is already gone (or was replaced by a newer one)."""
    # The uid precondition stops a late TTL from deleting a new run created under the same name.
    body = (
        {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": uid}}
        if uid
        else None
    )
    try:
        await api.delete(
            url=resource.get_url(
                namespace=NamespaceName(namespace) if namespace else None, name=name
            ),
            payload=body,
            settings=settings,
            logger=logger,
        )
    except (errors.APINotFoundError, errors.APIConflictError):
        return False
    return True
