"""Tokens minted by folio-token (library and `folio token` CLI) verify under PyJWT, and their
payload is what the spec says: params as strings, integer iat/exp, a jti. Also: V1
authentication parameters from folio-token match the Python SDK's helper and hmac/sha1.
FOLIO_TOKENS: JSON array of {source, token, params, lifetime}; FOLIO_V1_PARAMS: {token, expire,
signature}."""

import hashlib
import hmac
import json
import os
import time

import jwt
from imagekitio import ImageKit

from common import BASE, PRIVATE_KEY, PUBLIC_KEY, ok

tokens = json.loads(os.environ.get("FOLIO_TOKENS", "[]"))
assert tokens, "FOLIO_TOKENS lists tokens"

for entry in tokens:
    source, token = entry["source"], entry["token"]
    payload = jwt.decode(token, PRIVATE_KEY, algorithms=["HS256"])
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": PUBLIC_KEY}, source
    rest = {k: v for k, v in payload.items() if k not in ("iat", "exp", "jti")}
    assert rest == entry["params"], (source, rest, entry["params"])
    assert all(isinstance(v, str) for v in rest.values()), (source, rest)
    iat, exp, jti = payload["iat"], payload["exp"], payload.get("jti")
    assert type(iat) is int and type(exp) is int, (source, payload)
    assert exp - iat == entry["lifetime"], (source, payload)
    assert abs(iat - time.time()) < 300, (source, payload)
    assert isinstance(jti, str) and jti, (source, payload)

    # The checks bite: another key or another algorithm is refused.
    for key, algorithms, error in [
        (PRIVATE_KEY + "x", ["HS256"], jwt.InvalidSignatureError),
        (PRIVATE_KEY, ["HS512"], jwt.InvalidAlgorithmError),
    ]:
        try:
            jwt.decode(token, key, algorithms=algorithms)
        except error:
            pass
        else:
            raise AssertionError(f"{source}: {algorithms} with key {key!r} was accepted")
    ok(f"{source}: PyJWT decode accepted {json.dumps(payload, ensure_ascii=False)}")

v1 = json.loads(os.environ["FOLIO_V1_PARAMS"])
mine = hmac.new(PRIVATE_KEY.encode(), f"{v1['token']}{v1['expire']}".encode(), hashlib.sha1).hexdigest()
assert mine == v1["signature"], (mine, v1)
helper = ImageKit(private_key=PRIVATE_KEY, base_url=BASE).helper
assert helper.get_authentication_parameters(v1["token"], v1["expire"]) == v1, v1
ok("folio-token V1 authentication parameters match hmac/sha1 and the SDK helper")
print("pyjwt verify: all checks passed")
