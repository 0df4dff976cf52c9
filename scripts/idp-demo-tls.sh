#!/usr/bin/env bash
# A throw-away CA and a certificate for localhost / 127.0.0.1 signed by it, for cpx-idp served
# over HTTPS in `make demo` and in the browser tests. The CA is separate from the leaf because
# rustls (the demo site's client, `--oidc-provider-ca`) does not take a self-signed leaf as its
# own root. Usage: idp-demo-tls.sh DIR   (writes DIR/ca.pem, DIR/idp.pem, DIR/idp.key once;
# an existing set is kept).
set -euo pipefail
dir=${1:?usage: idp-demo-tls.sh DIR}
mkdir -p "$dir"
cd "$dir"
[ -s ca.pem ] && [ -s idp.pem ] && [ -s idp.key ] && exit 0
p256=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)
openssl genpkey "${p256[@]}" -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -days 825 -subj "/CN=CPx Connect demo TLS CA (TEST)" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem 2>/dev/null
openssl genpkey "${p256[@]}" -out idp.key 2>/dev/null
openssl req -new -key idp.key -subj "/CN=localhost" -out idp.csr 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >idp.ext
openssl x509 -req -in idp.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
  -extfile idp.ext -out idp.pem 2>/dev/null
rm -f idp.csr idp.ext ca.srl
chmod 600 ca.key idp.key
