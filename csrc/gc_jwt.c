/*
** gc_jwt.c: certificate loading and JWT signing with OpenSSL's libcrypto
** (the library libcurl's OpenSSL flavour already links).
*/
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "gc_jwt.h"
#include "gc_visibility.h" /* last: see there */


int gc_base64url(gc_buf *out, const unsigned char *p, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t i;
  for (i = 0; i + 2 < n; i += 3) {
    char q[4];
    unsigned long v = ((unsigned long)p[i] << 16) | ((unsigned long)p[i + 1] << 8) | p[i + 2];
    q[0] = tbl[(v >> 18) & 63];
    q[1] = tbl[(v >> 12) & 63];
    q[2] = tbl[(v >> 6) & 63];
    q[3] = tbl[v & 63];
    if (gc_buf_append(out, q, 4) != 0) return -1;
  }
  if (n - i == 1) {
    char q[2];
    q[0] = tbl[p[i] >> 2];
    q[1] = tbl[(p[i] & 3) << 4];
    if (gc_buf_append(out, q, 2) != 0) return -1;
  } else if (n - i == 2) {
    char q[3];
    unsigned long v = ((unsigned long)p[i] << 8) | p[i + 1];
    q[0] = tbl[(v >> 10) & 63];
    q[1] = tbl[(v >> 4) & 63];
    q[2] = tbl[(v << 2) & 63];
    if (gc_buf_append(out, q, 3) != 0) return -1;
  }
  return out->data ? 0 : gc_buf_append(out, "", 0);
}


static int thumbprint(X509 *x, const EVP_MD *md, char *dst, size_t dstlen) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  gc_buf b = {NULL, 0, 0};
  int r = -1;
  if (X509_digest(x, md, d, &n) == 1 && gc_base64url(&b, d, n) == 0 && b.len < dstlen) {
    memcpy(dst, b.data, b.len + 1);
    r = 0;
  }
  gc_buf_free(&b, 0);
  return r;
}


/* Never let OpenSSL fall back to prompting on the terminal: the pass phrase
** is certificate_password, or there is none. */
static int pass_phrase(char *buf, int size, int rwflag, void *ud) {
  const char *password = (const char *)ud;
  size_t n;
  (void)rwflag;
  if (password == NULL || size <= 0) return -1;
  n = strlen(password);
  if (n > (size_t)size) return -1;
  memcpy(buf, password, n);
  return (int)n;
}


int gc_cert_load(gc_cert *c, const char *path, const char *password, char *err, size_t errlen) {
  BIO *bio = BIO_new_file(path, "r");
  X509 *x = NULL;
  EVP_PKEY *key = NULL;
  if (bio == NULL) {
    (void)snprintf(err, errlen, "cannot open certificate file '%s'", path);
    return -1;
  }
  x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  if (x != NULL && BIO_reset(bio) == 0) /* the key may come before or after */
    key = PEM_read_bio_PrivateKey(bio, NULL, pass_phrase, (void *)password);
  BIO_free(bio);
  ERR_clear_error(); /* the queue may mention the file, not the secret */
  if (x == NULL || key == NULL) {
    (void)snprintf(err, errlen, "certificate file '%s' needs a PEM certificate and %s", path,
                   password ? "its private key (is certificate_password right?)"
                            : "its private key (an encrypted key needs certificate_password)");
    X509_free(x);
    EVP_PKEY_free(key);
    return -1;
  }
  if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA ||
      thumbprint(x, EVP_sha1(), c->x5t, sizeof c->x5t) != 0 ||
      thumbprint(x, EVP_sha256(), c->x5t_s256, sizeof c->x5t_s256) != 0) {
    (void)snprintf(err, errlen, "certificate file '%s' must hold an RSA key", path);
    X509_free(x);
    EVP_PKEY_free(key);
    return -1;
  }
  X509_free(x);
  c->key = key;
  return 0;
}


void gc_cert_free(gc_cert *c) {
  if (c->key != NULL) EVP_PKEY_free((EVP_PKEY *)c->key);
  c->key = NULL;
}


int gc_jwt_sign(const gc_cert *c, int pss, const char *header, size_t hlen, const char *claims,
                size_t clen, gc_buf *out) {
  EVP_MD_CTX *ctx = NULL;
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char *sig = NULL;
  size_t siglen = 0;
  int r = -1;
  if (gc_base64url(out, (const unsigned char *)header, hlen) != 0 ||
      gc_buf_append(out, ".", 1) != 0 ||
      gc_base64url(out, (const unsigned char *)claims, clen) != 0)
    return -1;
  if ((ctx = EVP_MD_CTX_new()) == NULL) goto done;
  if (EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, (EVP_PKEY *)c->key) != 1) goto done;
  if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
    goto done;
  if (EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)out->data, out->len) != 1)
    goto done;
  if ((sig = (unsigned char *)OPENSSL_malloc(siglen)) == NULL) goto done;
  if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)out->data, out->len) != 1) goto done;
  if (gc_buf_append(out, ".", 1) == 0 && gc_base64url(out, sig, siglen) == 0) r = 0;
done:
  OPENSSL_free(sig);
  EVP_MD_CTX_free(ctx); /* frees pctx too */
  ERR_clear_error();
  return r;
}
