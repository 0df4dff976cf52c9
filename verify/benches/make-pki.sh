#!/usr/bin/env bash
# The benchmark's PKI, made at each run in the folder given (nothing large is committed): an
# IGC-Santé-shaped chain (root, "AC ... FORT PERSONNES" intermediate, CPx-like card
# certificate, all RSA-2048 / SHA-256), the card's key, the root's ARL, and the intermediate's
# CRLs with 1,000 and 100,000 revoked serials (the card's is not among them).
# The openssl steps are the fixtures' own (tests/fixtures/openssl-ca.sh).
# Usage: bash verify/benches/make-pki.sh OUT_DIR   (openssl CLI 3.x)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
mkdir -p "$out"
cd "$out"
[ -f crl-100000.der ] && [ -f card.der ] && exit 0

# shellcheck source=../tests/fixtures/openssl-ca.sh
. "$here/../tests/fixtures/openssl-ca.sh"
pki_config root_ca issuing_ca < /dev/null
dn='/C=FR/O=BENCH/OU=IGC-SANTE BENCH'

pki_rsa_key root_ca.key
pki_self_signed root_ca 01 3650 "$dn/CN=BENCH AC RACINE IGC-SANTE"
pki_der root_ca.pem root.der

pki_rsa_key issuing_ca.key
pki_issue root_ca ca_ext 02 20240101000000Z 20341231000000Z issuing_ca.key "$dn/CN=BENCH AC IGC-SANTE FORT PERSONNES" issuing_ca
pki_der issuing_ca.pem ca.der
pki_crl root_ca root-arl.der

pki_rsa_key card.key
openssl pkcs8 -topk8 -nocrypt -in card.key -outform DER -out card.key.der
pki_issue issuing_ca auth_ext 7FFFFFFFFFFF 20250101000000Z 20341231000000Z card.key \
    '/C=FR/title=Médecin/CN=810001234567+SN=DUPONT+GN=MARIE' card
pki_der card.pem card.der

# CRLs of the intermediate with many revoked serials: openssl ca reads them from its database.
for count in 1000 100000; do
    awk -v n="$count" 'BEGIN {
        for (i = 1; i <= n; i++)
            printf "R\t301231000000Z\t240101000000Z,keyCompromise\t%08X\tunknown\t/CN=revoked %d\n", i * 7 + 4096, i
    }' > issuing_ca/index.txt
    pki_crl issuing_ca "crl-$count.der"
done
