# Sourced by the tests that sign Windows files (tests/windows/run.sh, tests/release/run.sh).
# code_signing_identity DIR: a throw-away Authenticode identity, never a release one:
#   DIR/ca.pem         a test CA, what `osslsigncode verify -CAfile` trusts
#   DIR/other-ca.pem   another CA, which must not verify the same files
#   DIR/signer.p12     a leaf with extendedKeyUsage=codeSigning, issued by ca.pem, and its key
#   DIR/signer.pass    the PKCS#12 password (a file: never on a command line)
#   DIR/tsa.cnf        an `openssl ts -reply` configuration for a test timestamp authority
#                      (tests/windows/timestamp-server.mjs), its certificate issued by ca.pem
code_signing_identity() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  (
    cd "$dir"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=CPx Connect test code-signing CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Someone else's CA" \
      -addext basicConstraints=critical,CA:TRUE -keyout other-ca-key.pem -out other-ca.pem 2>/dev/null
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=CPx Connect test signer/O=CPx Connect" \
      -keyout signer-key.pem -out signer.csr 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' >signer.ext
    openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
      -extfile signer.ext -out signer.pem 2>/dev/null
    openssl rand -hex 16 >signer.pass
    openssl pkcs12 -export -inkey signer-key.pem -in signer.pem -certfile ca.pem \
      -passout file:signer.pass -out signer.p12
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=CPx Connect test timestamp authority" \
      -keyout tsa-key.pem -out tsa.csr 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n' >tsa.ext
    openssl x509 -req -in tsa.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
      -extfile tsa.ext -out tsa.pem 2>/dev/null
    cat >tsa.cnf <<CONFIG
[tsa]
default_tsa = test_tsa
[test_tsa]
serial = $dir/tsa.serial
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa-key.pem
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
ess_cert_id_alg = sha256
ess_cert_id_chain = no
CONFIG
    echo 01 >tsa.serial
  )
}

# code_signing_token DIR: the signer's key of code_signing_identity DIR moved onto a SoftHSM2
# token, as an HSM or a smart card would hold it (the PKCS#11 route of packaging/windows/build.sh):
#   DIR/softhsm2.conf  the token store's configuration (export SOFTHSM2_CONF=DIR/softhsm2.conf)
#   DIR/token.pin      the user PIN
#   key URI            pkcs11:token=cpx-test;object=signer;type=private
code_signing_token() {
  local dir
  dir=$(cd "$1" && pwd)
  mkdir -p "$dir/tokens"
  printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" >"$dir/softhsm2.conf"
  openssl rand -hex 4 >"$dir/token.pin"
  SOFTHSM2_CONF="$dir/softhsm2.conf" softhsm2-util --init-token --free --label cpx-test \
    --pin "$(cat "$dir/token.pin")" --so-pin "$(openssl rand -hex 8)" >/dev/null
  SOFTHSM2_CONF="$dir/softhsm2.conf" softhsm2-util --import "$dir/signer-key.pem" --token cpx-test \
    --label signer --id 01 --pin "$(cat "$dir/token.pin")" >/dev/null
}
