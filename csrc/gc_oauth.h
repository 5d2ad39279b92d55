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

#define GC_DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

/* What a grant's token request sends, and what the session must hold for
** it: the flags of GC_GRANTS' last two columns. */
enum {
  GC_F_TOKEN_URL = 1 << 0, /* where the form goes (needed, never a field) */
  GC_F_CLIENT_ID = 1 << 1,
  GC_F_CLIENT_AUTH = 1 << 2, /* client_secret, or a certificate assertion */
  GC_F_SCOPE = 1 << 3,
  GC_F_USERNAME = 1 << 4,
  GC_F_PASSWORD = 1 << 5,
  GC_F_REFRESH_TOKEN = 1 << 6,
  GC_F_DEVICE_CODE = 1 << 7, /* the code of the sign-in in progress (sent, never needed) */
  GC_F_DEVICE_CB = 1 << 8    /* on_device_code, to show the user the code (needed, never sent) */
};

#define GC_F_APP          (GC_F_TOKEN_URL | GC_F_CLIENT_ID)
#define GC_F_CONFIDENTIAL (GC_F_CLIENT_ID | GC_F_CLIENT_AUTH | GC_F_SCOPE)

/* The grants, one row each: X(ID, name, grant_type, delegated, sends, needs).
** name: core.session's `grant` and graph.client's `auth`; grant_type: the
** token request's; delegated: signs a user in (Lua then asks for
** offline_access); sends: the form's fields after grant_type, in this
** order; needs: what a session must be given. The enum, the names, the form
** and the checks all come from here, and core.grants hands it to Lua:
** adding a grant is one row. */
#define GC_GRANTS(X)                                                                            \
  X(NONE, "none", NULL, 0, 0, 0)                                                                \
  X(CLIENT_CREDENTIALS, "client_credentials", "client_credentials", 0, GC_F_CONFIDENTIAL,       \
    GC_F_APP | GC_F_CLIENT_AUTH)                                                                \
  X(PASSWORD, "password", "password", 1, GC_F_CONFIDENTIAL | GC_F_USERNAME | GC_F_PASSWORD,     \
    GC_F_APP | GC_F_USERNAME | GC_F_PASSWORD)                                                   \
  X(REFRESH_TOKEN, "refresh_token", "refresh_token", 1, GC_F_CONFIDENTIAL | GC_F_REFRESH_TOKEN, \
    GC_F_APP | GC_F_REFRESH_TOKEN)                                                              \
  X(DEVICE_CODE, "device_code", GC_DEVICE_GRANT, 1, GC_F_CLIENT_ID | GC_F_DEVICE_CODE,          \
    GC_F_APP | GC_F_DEVICE_CB)

#define GC_GRANT_ENUM(id, name, type, delegated, sends, needs) GC_GRANT_##id,
typedef enum gc_grant { GC_GRANTS(GC_GRANT_ENUM) GC_NGRANTS } gc_grant;
#undef GC_GRANT_ENUM

typedef struct gc_grant_info {
  const char *name;
  const char *grant_type;
  int delegated;
  int sends; /* GC_F_* */
  int needs; /* GC_F_* */
} gc_grant_info;

extern const gc_grant_info gc_grants[GC_NGRANTS];

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
  double refresh_at;        /* monotonic time after which the token is renewed */
  unsigned long token_requests;
} gc_oauth;

void gc_oauth_init(gc_oauth *o);
void gc_oauth_free(lua_State *L, gc_oauth *o);
void gc_oauth_drop(gc_oauth *o);       /* forget the access token */
int gc_oauth_fresh(const gc_oauth *o); /* a usable token is cached */

/* What a session asks the identity platform, one request a step; no Lua
** runs and nothing waits inside these: the session sends the request
** through its engine like any other (fresh connection: a redemption is never
** silently re-sent), and the reply comes back here. TOKEN: the grant's
** token request (for the device code grant: pushes nil, err
** auth/sign_in_required, as a person signs in through the device steps,
** driven from Lua). DEVICE_START: a devicecode request. DEVICE_POLL: a token
** request with the device code (raises when no sign-in is in progress). */
typedef enum gc_auth_step { GC_AUTH_TOKEN, GC_AUTH_DEVICE_START, GC_AUTH_DEVICE_POLL } gc_auth_step;

/* The step's URL and form into url and form (the form holds secrets: the
** caller wipes it): 0; or nil, err pushed: 2. Raises on misuse. */
int gc_oauth_request(lua_State *L, gc_oauth *o, gc_auth_step step, gc_buf *url, gc_buf *form);

/* The reply to the step's request (rc: the exchange's outcome, started:
** when it was sent), its result pushed: TOKEN: true, with the token cached;
** DEVICE_START: the prompt's info ({ user_code, verification_uri, message,
** expires_in, interval }, texts made safe to print, the interval within
** [1, 60] s), the device code kept in o; DEVICE_POLL: "pending" or
** "slow_down" (the sign-in goes on), or true (the token cached: over).
** Returns 1; or pushes nil, err and returns 2 (a device sign-in is then
** over, but for a poll that was not answered: a transport failure, a 429 or
** a 5xx, after which the caller polls again or cancels). */
int gc_oauth_reply(lua_State *L, gc_oauth *o, gc_auth_step step, gc_http *h, CURLcode rc,
                   const char *crid, double started);

/* The grant called `name`, or -1. */
int gc_grant_find(const char *name);

/* What o lacks for its grant ("client_id", "client_secret|certificate_file",
** ...), or NULL when it has everything. */
const char *gc_oauth_missing(const gc_oauth *o);

/* core.grants: the table above, for Lua ({ name =, grant_type =, delegated =,
** sends = {...}, needs = {...} }, ...), an array in the table's order. */
void gc_grants_push(lua_State *L);

/* Replace every secret of o found in b, in any of its shapes, with
** "<redacted>". */
int gc_oauth_redact(const gc_oauth *o, gc_buf *b);

#endif
