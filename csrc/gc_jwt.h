/*
** gc_jwt.h: client assertions for the certificate credential: a JWT signed
** with the app's private key (PS256 + x5t#S256 today, RS256 + x5t before).
*/
#ifndef GC_JWT_H
#define GC_JWT_H

#include <stddef.h>
#include "gc_util.h"

typedef struct gc_cert {
  void *key;         /* EVP_PKEY *, opaque here to keep OpenSSL out of headers */
  char x5t[32];      /* base64url SHA-1 thumbprint of the DER certificate */
  char x5t_s256[48]; /* base64url SHA-256 thumbprint */
} gc_cert;

/* Load a PEM file holding the certificate and its private key. Returns 0, or
** -1 with a message in err (never containing the password). */
int gc_cert_load(gc_cert *c, const char *path, const char *password, char *err, size_t errlen);
void gc_cert_free(gc_cert *c);

/* out = base64url(header) "." base64url(claims) "." base64url(signature).
** pss selects PS256 (RSASSA-PSS, salt = digest length) over RS256. */
int gc_jwt_sign(const gc_cert *c, int pss, const char *header, size_t hlen, const char *claims,
                size_t clen, gc_buf *out);

int gc_base64url(gc_buf *out, const unsigned char *p, size_t n);

#endif
