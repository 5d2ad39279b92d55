#!/bin/sh
# The curl command line, as a shell script would use it: one curl process per
# request, its output decoded by one lua5.4 + lua-cjson process.
#   sh bench/clients/curl_cli.sh URL_PREFIX N TOKEN [CA_FILE]
# Measured from outside (/usr/bin/time: the loop's shell, every curl and every lua).
set -eu
prefix=$1 n=$2 token=$3 ca=${4:-}
here=$(dirname "$0")
set -- 87d349ed-44d7-43e1-9a83-5f2406dee5bd adele.vance@contoso.onmicrosoft.com \
  e2a9f0c4-3b1d-4c8e-9f6a-2d5b7e1c0a93 lynne.robbins@contoso.onmicrosoft.com \
  megan.bowen@contoso.onmicrosoft.com nestor.wilke@contoso.onmicrosoft.com \
  3f1c9a2e-5b7d-4e8f-a0c1-9d2e4b6f8a10 zoe.mueller@contoso.onmicrosoft.com
i=0
while [ $i -lt "$n" ]; do
  for id in "$@"; do
    [ $i -lt "$n" ] || break
    if [ -n "$ca" ]; then
      curl -sSf --cacert "$ca" -H "Authorization: Bearer $token" -H "Accept: application/json" \
        "$prefix$id" | ${LUA:-lua5.4} "$here/decode.lua"
    else
      curl -sSf -H "Authorization: Bearer $token" -H "Accept: application/json" \
        "$prefix$id" | ${LUA:-lua5.4} "$here/decode.lua"
    fi
    i=$((i + 1))
  done
done
