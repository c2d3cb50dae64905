#!/usr/bin/env python3
"""A Docker registry Bearer token server for the tests (standard library + the openssl binary).

    token_server.py --config CONFIG.json --port-file FILE [--log REQUESTS.jsonl] [--port N]

It binds 127.0.0.1 (port 0 = any free one), writes the port to --port-file once it listens, and
answers GET /token (Basic credentials, query service/scope/account) and POST /token (OAuth2 form:
grant_type=password|refresh_token) with an RS256 JWT the Docker distribution registry accepts: the
header carries x5c = the signing certificate, which must be in the registry's
auth.token.rootcertbundle.

CONFIG.json is re-read on every request, so a test can change the policy on the fly:
  {
    "issuer": "hoist-test-issuer", "service": "hoist-test-registry",
    "key": "token.key", "cert": "token.crt",          # PEM; RSA key
    "expires_in": 300,          # what the answer says
    "token_lifetime": 300,      # the JWT's exp - now
    "expired_tokens": 0,        # the first N tokens issued (since the config last changed) are expired
    "token_field": "token",     # "token", "access_token" or "both"
    "users": {"alice": {"password": "secret", "access": {"*": ["pull", "push"]},
                        "identity_token": "optional refresh token"}},
    "anonymous": ["pull"]       # actions granted without credentials (on every repository);
                                # [] = a token with no access; null = anonymous requests get 401
  }
"access" maps repository name patterns (fnmatch) to the actions granted. Every request is logged as
a JSON line: {"method", "path", "user", "scopes", "granted", "status", "grant_type"}.
"""
import argparse
import base64
import fnmatch
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
STATE = {"config_text": None, "issued": 0}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_config():
    with open(ARGS.config) as f:
        text = f.read()
    with LOCK:
        if text != STATE["config_text"]:
            STATE["config_text"] = text
            STATE["issued"] = 0
    return json.loads(text)


def cert_der_b64(path):
    with open(path) as f:
        pem = f.read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return "".join(body.split())


def sign(key_path, data: bytes) -> bytes:
    r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if r.returncode != 0:
        raise RuntimeError("openssl dgst failed: " + r.stderr.decode(errors="replace"))
    return r.stdout


def parse_scope(s):
    """'repository:name:pull,push' -> (type, name, [actions]); None when malformed."""
    parts = s.split(":")
    if len(parts) < 3:
        return None
    typ = parts[0]
    actions = parts[-1]
    name = ":".join(parts[1:-1])
    return typ, name, [a for a in actions.split(",") if a]


def granted_actions(cfg, user, typ, name, wanted):
    if typ != "repository":
        return []
    if user is None:
        allowed = cfg.get("anonymous") or []
    else:
        allowed = []
        for pattern, acts in cfg["users"][user].get("access", {}).items():
            if fnmatch.fnmatchcase(name, pattern):
                allowed.extend(acts)
    if "*" in allowed:
        return list(wanted)
    return [a for a in wanted if a in allowed]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hoist-test-token-server/1"

    def log_message(self, fmt, *args):  # quiet: the JSON log is what tests read
        pass

    def _log(self, entry):
        if not ARGS.log:
            return
        with LOCK:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def _send_json(self, status, obj, extra_headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _deny(self, entry, message):
        entry["status"] = 401
        self._log(entry)
        self._send_json(401, {"errors": [{"code": "UNAUTHORIZED", "message": message}]},
                        {"WWW-Authenticate": 'Basic realm="hoist-test-token"'})

    def _issue(self, cfg, user, scopes, entry, oauth):
        access = []
        for s in scopes:
            p = parse_scope(s)
            if not p:
                continue
            typ, name, wanted = p
            acts = granted_actions(cfg, user, typ, name, wanted)
            if acts:
                access.append({"type": typ, "name": name, "actions": acts})
        now = int(time.time())
        with LOCK:
            STATE["issued"] += 1
            expired = STATE["issued"] <= int(cfg.get("expired_tokens", 0))
        lifetime = int(cfg.get("token_lifetime", 300))
        exp = now - 600 if expired else now + lifetime
        header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der_b64(cfg["cert"])]}
        claims = {
            "iss": cfg["issuer"],
            "sub": user or "",
            "aud": cfg["service"],
            "exp": exp,
            "nbf": now - 900 if expired else now - 10,
            "iat": now - 900 if expired else now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        jwt = signing_input + "." + b64url(sign(cfg["key"], signing_input.encode()))
        field = cfg.get("token_field", "token")
        answer = {"expires_in": int(cfg.get("expires_in", 300)),
                  "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
        if oauth or field in ("access_token", "both"):
            answer["access_token"] = jwt
        if (not oauth and field in ("token", "both")) or (oauth and field == "both"):
            answer["token"] = jwt
        entry.update(status=200, granted=access, expired=expired)
        self._log(entry)
        self._send_json(200, answer)

    def _check_password(self, cfg, user, password):
        u = cfg.get("users", {}).get(user)
        return u is not None and u.get("password") == password

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        cfg = load_config()
        scopes = []
        for s in q.get("scope", []):
            scopes.extend(x for x in s.split(" ") if x)
        entry = {"method": "GET", "path": url.path, "scopes": scopes, "service": q.get("service", [""])[0],
                 "user": None, "grant_type": "basic"}
        if url.path != "/token":
            entry["status"] = 404
            self._log(entry)
            self._send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]})
            return
        auth = self.headers.get("Authorization", "")
        user = None
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except Exception:
                return self._deny(entry, "malformed credentials")
            entry["user"] = user
            if not self._check_password(cfg, user, password):
                return self._deny(entry, "invalid username or password")
        elif cfg.get("anonymous") is None:
            return self._deny(entry, "anonymous access is not allowed")
        if entry["service"] != cfg["service"]:
            entry["status"] = 400
            self._log(entry)
            self._send_json(400, {"errors": [{"code": "INVALID_REQUEST", "message": "unknown service"}]})
            return
        self._issue(cfg, user, scopes, entry, oauth=False)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        cfg = load_config()
        length = int(self.headers.get("Content-Length", "0") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        get = lambda k: form.get(k, [""])[0]
        scopes = [x for x in get("scope").split(" ") if x]
        entry = {"method": "POST", "path": url.path, "scopes": scopes, "service": get("service"), "user": None,
                 "grant_type": get("grant_type")}
        if url.path != "/token":
            entry["status"] = 404
            self._log(entry)
            self._send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]})
            return
        user = None
        if get("grant_type") == "password":
            user = get("username")
            entry["user"] = user
            if not self._check_password(cfg, user, get("password")):
                return self._deny(entry, "invalid username or password")
        elif get("grant_type") == "refresh_token":
            for name, u in cfg.get("users", {}).items():
                if u.get("identity_token") and u.get("identity_token") == get("refresh_token"):
                    user = name
            entry["user"] = user
            if user is None:
                return self._deny(entry, "invalid refresh token")
        else:
            entry["status"] = 400
            self._log(entry)
            self._send_json(400, {"error": "unsupported_grant_type"})
            return
        self._issue(cfg, user, scopes, entry, oauth=True)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", default="")
    ARGS = ap.parse_args()
    load_config()
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
