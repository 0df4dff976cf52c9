#!/usr/bin/env bash
# The benchmark's PKI, made at each run in the folder given (nothing large is committed): an
# IGC-Santé-shaped chain (root, "AC ... FORT PERSONNES" intermediate, CPx-like card
# certificate, all RSA-2048 / SHA-256), the card's key, the root's ARL, and the intermediate's
# CRLs with 1,000 and 100,000 revoked serials (the card's is not among them).
# Usage: bash verify/benches/make-pki.sh OUT_DIR   (openssl CLI 3.x)
set -euo pipefail
out="$1"
mkdir -p "$out"
cd "$out"
[ -f crl-100000.der ] && [ -f card.der ] && exit 0

cat > openssl.cnf <<'CNF'
[ req ]
distinguished_name = dn
string_mask = utf8only
[ dn ]
[ ca ]
database = ./index.txt
new_certs_dir = ./new
serial = ./serial
crlnumber = ./crlnumber
default_md = sha256
policy = any
unique_subject = no
preserve = yes
copy_extensions = none
default_crl_days = 30
[ any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = optional
surname = optional
givenName = optional
title = optional
[ root_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ ca_ext ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ auth_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 1.3.6.1.4.1.32473.1.1
[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF

key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
fresh_db() { rm -rf new index.txt; mkdir -p new; : > index.txt; echo 01 > crlnumber; }
dn='/C=FR/O=BENCH/OU=IGC-SANTE BENCH'

key root.key
openssl req -new -x509 -config openssl.cnf -key root.key -sha256 -days 3650 -set_serial 1 \
    -subj "$dn/CN=BENCH AC RACINE IGC-SANTE" -extensions root_ext -out root.pem
openssl x509 -in root.pem -outform DER -out root.der

key ca.key
openssl req -new -config openssl.cnf -key ca.key -subj "$dn/CN=BENCH AC IGC-SANTE FORT PERSONNES" -out ca.csr
fresh_db; echo 02 > serial
openssl ca -batch -config openssl.cnf -name ca -cert root.pem -keyfile root.key -notext \
    -extensions ca_ext -days 3000 -in ca.csr -out ca.pem 2>/dev/null
openssl x509 -in ca.pem -outform DER -out ca.der
openssl ca -config openssl.cnf -name ca -cert root.pem -keyfile root.key -gencrl -crlexts crl_ext \
    -out root.crl 2>/dev/null
openssl crl -in root.crl -outform DER -out root-arl.der

key card.key
openssl pkcs8 -topk8 -nocrypt -in card.key -outform DER -out card.key.der
openssl req -new -config openssl.cnf -multivalue-rdn -utf8 -key card.key \
    -subj '/C=FR/title=Médecin/CN=810001234567+SN=DUPONT+GN=MARIE' -out card.csr
fresh_db; echo 7FFFFFFFFFFF > serial
openssl ca -batch -config openssl.cnf -name ca -cert ca.pem -keyfile ca.key -notext -utf8 \
    -multivalue-rdn -preserveDN -extensions auth_ext -days 1000 -in card.csr -out card.pem 2>/dev/null
openssl x509 -in card.pem -outform DER -out card.der

# CRLs of the intermediate with many revoked serials: openssl ca reads them from its database.
for count in 1000 100000; do
    fresh_db
    awk -v n="$count" 'BEGIN {
        for (i = 1; i <= n; i++)
            printf "R\t301231000000Z\t240101000000Z,keyCompromise\t%08X\tunknown\t/CN=revoked %d\n", i * 7 + 4096, i
    }' > index.txt
    openssl ca -config openssl.cnf -name ca -cert ca.pem -keyfile ca.key -gencrl -crlexts crl_ext \
        -out "crl-$count.pem" 2>/dev/null
    openssl crl -in "crl-$count.pem" -outform DER -out "crl-$count.der"
done
