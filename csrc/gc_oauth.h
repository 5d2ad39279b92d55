/*
** gc_oauth.h: OAuth2 grants against the Microsoft identity platform and the
** per-session access-token cache. The secrets kept live here, wiped when
** freed; token replies are decoded as Lua strings first, and the refresh
** token goes back to Lua on request (docs/security.md).
*/
#ifndef GC_OAUTH_H
#define GC_OAUTH_H

#include "gc_compat.h"
#include "gc_http.h"
#include "gc_jwt.h"
#include "gc_util.h"

typedef enum gc_grant {
  GC_GRANT_NONE = 0,
  GC_GRANT_CLIENT_CREDENTIALS,
  GC_GRANT_PASSWORD,
  GC_GRANT_REFRESH_TOKEN,
  GC_GRANT_DEVICE_CODE
} gc_grant;

typedef struct gc_oauth {
  gc_grant grant;
  char *token_url;
  char *client_id;
  char *scope;
  char *client_secret; /* secrets: wiped before they are freed */
  char *username;
  char *password;
  char *refresh_token;
  char *device_code;        /* during a device code sign-in */
  char *auth_header;        /* "Authorization: Bearer <token>", built once a token */
  const char *access_token; /* the token, inside auth_header */
  gc_cert cert;             /* certificate credential, when cert.key is set */
  int cert_pss;             /* PS256 + x5t#S256 (1) or RS256 + x5t (0) */
  int device_cb;            /* registry ref of on_device_code, or LUA_NOREF */
  int signing_in;           /* on_device_code is running: no request, no close */
  double refresh_at;        /* monotonic time after which the token is renewed */
  unsigned long token_requests;
} gc_oauth;

void gc_oauth_init(gc_oauth *o);
void gc_oauth_free(lua_State *L, gc_oauth *o);
void gc_oauth_drop(gc_oauth *o);       /* forget the access token */
int gc_oauth_fresh(const gc_oauth *o); /* a usable token is cached */

/* Run the grant. Returns 0 with the token cached, or pushes nil, err and
** returns 2. */
int gc_oauth_acquire(lua_State *L, gc_oauth *o, const gc_exchanger *x);

/* Raise "graph.core: <what> from inside on_device_code is refused" while the
** device code callback runs: the sign-in still uses the session. */
void gc_oauth_refuse_nested(lua_State *L, const gc_oauth *o, const char *what);

/* Replace every secret of o found in b, in any of its shapes, with
** "<redacted>". */
int gc_oauth_redact(const gc_oauth *o, gc_buf *b);

#endif
