"""A V2 upload token minted by PyJWT (`jwt.encode(payload, key, algorithm="HS256",
headers={"kid": public_key})` with iat/exp), used by a browser-like client: a plain multipart
POST (httpx) with no Authorization header. Accepted once, refused on replay."""

import time

import httpx
import jwt

from common import BASE, PRIVATE_KEY, PUBLIC_KEY, TIMEOUT_S, check_uploaded_file, fixture, ok

# What the client will send, as strings (spec §2.3 rule 2).
upload_payload = {
    "fileName": "jwt python.jpg",
    "useUniqueFileName": "false",
    "tags": "python,pyjwt",
    "folder": "/compat/pyjwt",
    "isPublished": "true",
    "responseFields": "tags",
}
now = int(time.time())
token = jwt.encode({**upload_payload, "iat": now, "exp": now + 400}, PRIVATE_KEY, algorithm="HS256",
                   headers={"kid": PUBLIC_KEY})
header = jwt.get_unverified_header(token)
assert header == {"alg": "HS256", "typ": "JWT", "kid": PUBLIC_KEY}, header
ok(f"PyJWT {jwt.__version__} minted {header}")


def send():
    response = httpx.post(
        f"{BASE}/api/v2/files/upload",
        data={**upload_payload, "token": token},
        files={"file": ("jwt python.jpg", fixture("tiny.jpg"), "image/jpeg")},
        timeout=TIMEOUT_S,
    )
    assert "authorization" not in response.request.headers
    return response.status_code, response.json()


status, body = send()
assert status == 200, (status, body)
check_uploaded_file(body, fixture_name="tiny.jpg", name="jwt_python.jpg", folder="/compat/pyjwt")
assert body["tags"] == ["python", "pyjwt"], body
ok("first upload with the token -> 200, file object checked")

status, body = send()
assert (status, body["message"]) == (400, "Your request contains a token that has already been used."), (status, body)
ok(f'replay -> {status} "{body["message"]}"')
print("pyjwt: all checks passed")
