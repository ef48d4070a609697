"""A small ACME client for tests: JWS (RS256/ES256/ES384) and EAB built with python3-cryptography, HTTPS
with python3-requests. Used by the protocol tests (acme_protocol_test.py) and the end-to-end tests
against the dev appliance (tests/acme_clients/)."""
import base64
import hashlib
import hmac
import json

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

URN = "urn:ietf:params:acme:error:"

def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def int_bytes(n, width=None):
    width = width or (n.bit_length() + 7) // 8
    return n.to_bytes(width, "big")


class Key:
    def __init__(self, kind="ES256"):
        self.alg = kind
        if kind == "ES256":
            self.priv = ec.generate_private_key(ec.SECP256R1())
        elif kind == "ES384":
            self.priv = ec.generate_private_key(ec.SECP384R1())
        else:
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self):
        pub = self.priv.public_key().public_numbers()
        if self.alg == "RS256":
            return {"kty": "RSA", "n": b64(int_bytes(pub.n)), "e": b64(int_bytes(pub.e))}
        width = 32 if self.alg == "ES256" else 48
        return {"kty": "EC", "crv": "P-256" if width == 32 else "P-384",
                "x": b64(int_bytes(pub.x, width)), "y": b64(int_bytes(pub.y, width))}

    def thumbprint(self):
        jwk = self.jwk()
        members = ["e", "kty", "n"] if jwk["kty"] == "RSA" else ["crv", "kty", "x", "y"]
        canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
        return b64(hashlib.sha256(canonical.encode()).digest())

    def sign(self, data):
        if self.alg == "RS256":
            return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())
        h = hashes.SHA256() if self.alg == "ES256" else hashes.SHA384()
        r, s = decode_dss_signature(self.priv.sign(data, ec.ECDSA(h)))
        width = 32 if self.alg == "ES256" else 48
        return int_bytes(r, width) + int_bytes(s, width)


def jws(key, header, payload, alg=None):
    header = dict(header)
    header.setdefault("alg", alg or key.alg)
    protected = b64(json.dumps(header))
    body = "" if payload is None else b64(json.dumps(payload) if not isinstance(payload, (bytes, str)) else payload)
    sig = key.sign(f"{protected}.{body}".encode())
    return {"protected": protected, "payload": body, "signature": b64(sig)}


def hs256(mac, header, payload):
    protected = b64(json.dumps(header))
    body = b64(json.dumps(payload))
    sig = hmac.new(mac, f"{protected}.{body}".encode(), hashlib.sha256).digest()
    return {"protected": protected, "payload": body, "signature": b64(sig)}


class Client:
    def __init__(self, base, key=None):
        self.base = base
        self.key = key or Key()
        self.kid = None
        self.s = requests.Session()
        self.s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
        self.s.verify = False

    def url(self, path):
        return self.base + path

    def nonce(self):
        return self.s.head(self.url("/acme/new-nonce")).headers["Replay-Nonce"]

    def raw(self, url, body, content_type="application/jose+json"):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.s.post(url, data=data, headers={"Content-Type": content_type})

    def post(self, url, payload, use_jwk=False, edit=None):
        header = {"nonce": self.nonce(), "url": url}
        if use_jwk or not self.kid:
            header["jwk"] = self.key.jwk()
        else:
            header["kid"] = self.kid
        if edit:
            edit(header)
        return self.raw(url, jws(self.key, header, payload))

    def eab(self, kid, mac, edit=None, payload=None):
        header = {"alg": "HS256", "kid": kid, "url": self.url("/acme/new-account")}
        if edit:
            edit(header)
        return hs256(mac, header, payload if payload is not None else self.key.jwk())

    def new_account(self, eab):
        r = self.post(self.url("/acme/new-account"),
                      {"termsOfServiceAgreed": True, "contact": ["mailto:ops@example.com"],
                       "externalAccountBinding": eab}, use_jwk=True)
        if r.status_code in (200, 201):
            self.kid = r.headers["Location"]
        return r

    def new_order(self, *names, **extra):
        payload = {"identifiers": [{"type": "dns", "value": n} for n in names]}
        payload.update(extra)
        return self.post(self.url("/acme/new-order"), payload)
