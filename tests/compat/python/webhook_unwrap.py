"""Verifies one webhook delivery with the official Python SDK, the way a receiving app does:
`client.webhooks.unwrap(raw_body, headers=headers, key=secret)` (Standard Webhooks, spec
webhooks.md §1; needs the `imagekitio[webhooks]` extra). Reads one JSON document from stdin:
  {"body": "<raw request body>", "headers": {"webhook-id": ..., ...}, "secret": "whsec_..."}
On success prints the unwrapped event as JSON on stdout and exits 0: the SDK's typed model,
serialized back with the wire names, so compare fields rather than bytes (pydantic rewrites
datetimes with microseconds, "...05.678000Z", and File.size as a float). On a refusal (bad
signature, stale timestamp, missing headers, a body that is not JSON) prints the error on stderr
and exits 1. Bad stdin exits 2, so a caller can tell a refusal from a broken run.

It talks to no server, so unlike the other scripts it does not import common.py (which requires
the FOLIO_* server environment)."""

import json
import os
import sys

from imagekitio import ImageKit


def main():
    try:
        document = json.load(sys.stdin)
    except ValueError as e:
        print(f"webhook_unwrap: stdin is not JSON: {e}", file=sys.stderr)
        return 2
    body = document.get("body") if isinstance(document, dict) else None
    headers = document.get("headers") if isinstance(document, dict) else None
    secret = document.get("secret") if isinstance(document, dict) else None
    if not (isinstance(body, str) and isinstance(headers, dict) and isinstance(secret, str)):
        print('webhook_unwrap: stdin must be {"body": str, "headers": object, "secret": str}', file=sys.stderr)
        return 2

    # The client needs a private key to be constructed, but unwrap never uses it: the webhook
    # secret is a separate credential (spec §1), passed as `key` so that the caller's
    # IMAGEKIT_WEBHOOK_SECRET cannot stand in for it.
    client = ImageKit(private_key=os.environ.get("FOLIO_PRIVATE_KEY") or "private_unused_by_unwrap")

    try:
        event = client.webhooks.unwrap(body, headers=headers, key=secret)
    # Any failure is a refusal: standardwebhooks raises WebhookVerificationError for a bad
    # signature or timestamp, but a malformed signature header surfaces as ValueError and a
    # non-JSON body as json.JSONDecodeError.
    except Exception as e:  # noqa: BLE001
        print(f"webhook_unwrap: refused: {type(e).__name__}: {e}", file=sys.stderr)
        return 1

    # unwrap returns one of the SDK's event models, picked by `type` without validation (a type
    # it does not list lands on the union's first member). Say which, for whoever reads a
    # failing test's output.
    print(f"webhook_unwrap: unwrapped as {type(event).__name__}", file=sys.stderr)
    print(json.dumps(event.to_dict(mode="json"), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
