#!/bin/sh
# Test certificates for the emulator's TLS mode, made with the openssl CLI.
#
#   emulator/make-certs.sh OUTDIR
#
# OUTDIR/ca.pem, ca.key              a test CA
# OUTDIR/server.pem, server.key      localhost (SAN DNS:localhost, IP:127.0.0.1), signed by the CA
# OUTDIR/wronghost.pem, .key         signed by the CA, but for wrong.example / 10.255.255.1 only
# OUTDIR/expired.pem, .key           localhost/127.0.0.1, signed by the CA, expired in 2020
#
# App credentials (client assertions), self-signed RSA 2048, certificate and key in one file:
# OUTDIR/app.pem                     the app's certificate + its unencrypted private key
# OUTDIR/app-encrypted.pem           the same certificate + the same key, encrypted
#                                    (PKCS#8, AES-256) with the password cert-pass-123
# OUTDIR/rogue.pem                   another certificate + key, never registered
#
# Idempotent: files that exist are kept (a new CA re-issues every leaf; a new
# app.pem re-makes app-encrypted.pem).
# POSIX sh (the Makefile runs it with sh, which is dash on Debian).
set -eu

out=${1:?usage: make-certs.sh OUTDIR}
mkdir -p "$out"
cd "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

fresh_ca=0
if [ ! -s ca.pem ] || [ ! -s ca.key ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -keyout ca.key -out ca.pem -subj "/CN=lua-msgraph emulator test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  fresh_ca=1
fi

# leaf NAME SAN [STARTDATE ENDDATE]: a key, a CSR and a certificate signed by the CA.
leaf() {
  name=$1 san=$2 start=${3:-} end=${4:-}
  if [ "$fresh_ca" = 0 ] && [ -s "$name.pem" ] && [ -s "$name.key" ]; then
    return
  fi
  cn=${san%%,*}
  openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$name.key" -out "$work/$name.csr" \
    -subj "/CN=${cn#DNS:}" 2>/dev/null
  cat > "$work/$name.ext" <<EOF
subjectAltName = $san
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
EOF
  if [ -z "$start" ]; then
    openssl x509 -req -sha256 -days 825 -in "$work/$name.csr" -CA ca.pem -CAkey ca.key \
      -set_serial "0x$(openssl rand -hex 16)" -extfile "$work/$name.ext" -out "$name.pem" 2>/dev/null
  else
    # openssl 3.0's x509 cannot back-date (-not_before came in 3.4), but `openssl ca`
    # takes explicit -startdate/-enddate: give it a throwaway CA database.
    touch "$work/index.txt"
    openssl rand -hex 16 > "$work/serial"
    cat > "$work/ca.cnf" <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
[ any_name ]
commonName = supplied
[ leaf_ext ]
subjectAltName = $san
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
EOF
    openssl ca -batch -notext -config "$work/ca.cnf" -cert ca.pem -keyfile ca.key \
      -in "$work/$name.csr" -out "$name.pem" -startdate "$start" -enddate "$end" \
      -extensions leaf_ext 2>/dev/null
  fi
}

leaf server "DNS:localhost,IP:127.0.0.1"
leaf wronghost "DNS:wrong.example,IP:10.255.255.1"
leaf expired "DNS:localhost,IP:127.0.0.1" 20200101000000Z 20200201000000Z

# selfsigned NAME CN: NAME.pem = a self-signed certificate followed by its private key.
selfsigned() {
  name=$1 cn=$2
  if [ -s "$name.pem" ]; then
    return
  fi
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=$cn" \
    -keyout "$work/$name.key" -out "$work/$name.crt" \
    -addext "keyUsage=critical,digitalSignature" 2>/dev/null
  cat "$work/$name.crt" "$work/$name.key" > "$work/$name.pem"
  mv "$work/$name.pem" "$name.pem"
}

selfsigned app "lua-msgraph test app"
selfsigned rogue "lua-msgraph rogue app"

# app-encrypted.pem: app.pem's certificate with its key encrypted; re-made
# whenever it does not hold app.pem's certificate.
der_sum() { openssl x509 -in "$1" -outform DER 2>/dev/null | cksum; }
if [ ! -s app-encrypted.pem ] || [ "$(der_sum app.pem)" != "$(der_sum app-encrypted.pem)" ]; then
  openssl x509 -in app.pem -out "$work/app-enc.crt"
  openssl pkey -in app.pem -aes256 -passout pass:cert-pass-123 -out "$work/app-enc.key"
  cat "$work/app-enc.crt" "$work/app-enc.key" > "$work/app-encrypted.pem"
  mv "$work/app-encrypted.pem" app-encrypted.pem
fi

chmod 644 ca.pem server.pem wronghost.pem expired.pem
chmod 600 app.pem app-encrypted.pem rogue.pem
echo "certificates in $(pwd): ca.pem server.pem wronghost.pem expired.pem (+ .key), app.pem app-encrypted.pem rogue.pem"
