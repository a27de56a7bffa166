
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect: the device API of Huawei Cloud IoTDA v5, served at
 * /v5/iot/{project_id}/...  Its table and routes; the project (the
 * installation's team); its errors ({"error_code":"IOTDA.xxxxxx",
 * "error_msg":...} and an X-Request-Id header on every answer); and its
 * credentials: X-Auth-Token with an API token, or the AK/SK request
 * signature of the Huawei Cloud SDKs (SDK-HMAC-SHA256, V11-HMAC-SHA256)
 * made with an access key of an API token (docs/iotda.md).
 *
 * A signature covers the body as it was sent, so every route reads its
 * body itself (own_body): the body is read, its hash checked with the
 * signature, then it is parsed, then the route's handler runs.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include "ngx_http_iot_iotda.h"
#include "ngx_iot_teams.h"
#include "ngx_http_iot_iotda_sign.h"
#include "ngx_http_iot_collections.h"
#include "ngx_iot_token.h"


/* an Authorization header of a signed request, as sent */
typedef struct {
    ngx_uint_t                     v11;
    ngx_str_t                      ak;
    ngx_str_t                      info;        /* V11: date/region/iotdm */
    ngx_str_t                      signed_headers;
    ngx_str_t                      signature;
} ngx_http_iot_iotda_auth_t;


static ngx_http_iot_route_t *ngx_http_iot_iotda_route(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_iotda_credentials(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_iotda_metrics(ngx_iot_metrics_t *m,
    void *data);
static ngx_int_t ngx_http_iot_iotda_authorize(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_uint_t ngx_http_iot_iotda_own_body(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_buf_t *ngx_http_iot_iotda_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
static ngx_int_t ngx_http_iot_iotda_entry(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static void ngx_http_iot_iotda_body(ngx_http_request_t *r);
static void ngx_http_iot_iotda_body_free(void *data);
static ngx_int_t ngx_http_iot_iotda_request_id(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_iotda_parse_auth(ngx_str_t *h,
    ngx_http_iot_iotda_auth_t *auth);
static ngx_int_t ngx_http_iot_iotda_signed(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_str_t *h);
static ngx_int_t ngx_http_iot_iotda_verify(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, u_char *body, size_t len);
static ngx_str_t *ngx_http_iot_iotda_header(ngx_http_request_t *r,
    u_char *name, size_t len);
static void ngx_http_iot_iotda_secret_key(u_char *hash, u_char *sk);
static void ngx_http_iot_iotda_exit_process(ngx_cycle_t *cycle);


ngx_http_iot_dialect_t  ngx_http_iot_iotda_dialect = {
    ngx_string("iotda"),                   /* name */
    ngx_string("application/json"),        /* content type */
    ngx_http_iot_iotda_route,              /* route */
    ngx_http_iot_iotda_credentials,        /* credentials */
    ngx_http_iot_iotda_authorize,          /* authorize */
    0,                                     /* body methods: read by own */
    ngx_http_iot_iotda_error,              /* error */
    NULL,                                  /* list tail: no list yet */
    0,                                     /* list tail max */
    NULL,                                  /* list cursor */
    ngx_null_string,                       /* WebSocket keep-alive */
    NULL,                                  /* data messages: none */
    NULL,                                  /* streams: none */
    ngx_null_string,                       /* errors: application/json */
    ngx_http_iot_iotda_own_body,           /* every body: it is signed */
    NULL,                                  /* downlinks' states: no streams */
    ngx_http_iot_iotda_exit_process        /* models, hashing kept */
};


typedef enum {
    NGX_HTTP_IOT_IOTDA_R_DEVICES = 0,
    NGX_HTTP_IOT_IOTDA_R_DEVICE,
    NGX_HTTP_IOT_IOTDA_R_PRODUCTS,
    NGX_HTTP_IOT_IOTDA_R_PRODUCT,
    NGX_HTTP_IOT_IOTDA_R_MESSAGES,
    NGX_HTTP_IOT_IOTDA_R_MESSAGE,
    NGX_HTTP_IOT_IOTDA_R_KEYS,
    NGX_HTTP_IOT_IOTDA_R_KEY,
    NGX_HTTP_IOT_IOTDA_R_ACTION,
    NGX_HTTP_IOT_IOTDA_R_FREEZE,
    NGX_HTTP_IOT_IOTDA_R_SHADOW,
    NGX_HTTP_IOT_IOTDA_R_TAGS,
    NGX_HTTP_IOT_IOTDA_R_COMMANDS,
    NGX_HTTP_IOT_IOTDA_R_NONE
} ngx_http_iot_iotda_route_e;


/* every route goes through the entry, arg: its handler */

static ngx_http_iot_route_t  ngx_http_iot_iotda_routes[] = {

    { NGX_HTTP_GET|NGX_HTTP_POST, ngx_string("GET, POST"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_DEVICES },

    { NGX_HTTP_GET|NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_string("GET, PUT, DELETE"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_DEVICE },

    { NGX_HTTP_GET|NGX_HTTP_POST, ngx_string("GET, POST"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_PRODUCTS },

    { NGX_HTTP_GET|NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_string("GET, PUT, DELETE"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_PRODUCT },

    { NGX_HTTP_GET|NGX_HTTP_POST, ngx_string("GET, POST"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_MESSAGES },

    { NGX_HTTP_GET, ngx_string("GET"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_MESSAGE },

    { NGX_HTTP_GET|NGX_HTTP_POST, ngx_string("GET, POST"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_KEYS },

    { NGX_HTTP_GET|NGX_HTTP_DELETE, ngx_string("GET, DELETE"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_KEY },

    { NGX_HTTP_POST, ngx_string("POST"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_ACTION },

    { NGX_HTTP_POST, ngx_string("POST"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_FREEZE },

    { NGX_HTTP_GET|NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_string("GET, PUT, DELETE"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_SHADOW },

    { NGX_HTTP_POST, ngx_string("POST"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_TAGS },

    { NGX_HTTP_POST, ngx_string("POST"),
      ngx_http_iot_iotda_entry, NGX_HTTP_IOT_IOTDA_R_COMMANDS }
};


typedef struct {
    ngx_http_iot_route_pt          handler;
    ngx_uint_t                     json;      /* methods with a JSON body */
    ngx_uint_t                     optional;  /* it may be empty */
} ngx_http_iot_iotda_handler_t;


static ngx_http_iot_iotda_handler_t  ngx_http_iot_iotda_handlers[] = {
    { ngx_http_iot_iotda_devices, NGX_HTTP_POST, 0 },
    { ngx_http_iot_iotda_device, NGX_HTTP_PUT, 0 },
    { ngx_http_iot_iotda_products, NGX_HTTP_POST, 0 },
    { ngx_http_iot_iotda_product, NGX_HTTP_PUT, 0 },
    { ngx_http_iot_iotda_messages, NGX_HTTP_POST, 0 },
    { ngx_http_iot_iotda_message, 0, 0 },
    { ngx_http_iot_iotda_keys, NGX_HTTP_POST, 0 },
    { ngx_http_iot_iotda_key, 0, 0 },
    { ngx_http_iot_iotda_action, NGX_HTTP_POST, 1 },
    { ngx_http_iot_iotda_freeze, 0, 0 },
    { ngx_http_iot_iotda_shadow, NGX_HTTP_PUT, 0 },
    { ngx_http_iot_iotda_tags, NGX_HTTP_POST, 0 },
    { ngx_http_iot_iotda_commands, NGX_HTTP_POST, 0 }
};


/*
 * The segments below the location: {project_id}/devices/...  Mounted at
 * "location /" the path still starts with v5/iot, which is skipped.
 * ctx->seg[0] is then made the project.
 */

static ngx_http_iot_route_t *
ngx_http_iot_iotda_route(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_str_t                   *s;
    ngx_uint_t                   i, n;
    ngx_http_iot_iotda_route_e   route;

    s = ctx->seg;
    n = ctx->nseg;

#define ngx_http_iot_iotda_is(k, name)                                        \
    (s[k].len == sizeof(name) - 1                                             \
     && ngx_strncmp(s[k].data, name, sizeof(name) - 1) == 0)

    if (n >= 2 && ngx_http_iot_iotda_is(0, "v5")
        && ngx_http_iot_iotda_is(1, "iot"))
    {
        for (i = 2; i < n; i++) {
            s[i - 2] = s[i];
        }

        n -= 2;
        ctx->nseg = n;
    }

    route = NGX_HTTP_IOT_IOTDA_R_NONE;

    i = ngx_http_iot_iotda_iam(r);

    if (i && n) {
        /* /v3.0/OS-CREDENTIAL/credentials[/{access_key}] */
        route = (i == 1) ? NGX_HTTP_IOT_IOTDA_R_KEYS
                         : NGX_HTTP_IOT_IOTDA_R_KEY;

    } else if (n == 2 && ngx_http_iot_iotda_is(1, "devices")) {
        route = NGX_HTTP_IOT_IOTDA_R_DEVICES;

    } else if (n == 3 && ngx_http_iot_iotda_is(1, "devices")) {
        route = NGX_HTTP_IOT_IOTDA_R_DEVICE;

    } else if (n == 2 && ngx_http_iot_iotda_is(1, "products")) {
        route = NGX_HTTP_IOT_IOTDA_R_PRODUCTS;

    } else if (n == 3 && ngx_http_iot_iotda_is(1, "products")) {
        route = NGX_HTTP_IOT_IOTDA_R_PRODUCT;

    } else if (n == 4 && ngx_http_iot_iotda_is(1, "devices")
               && ngx_http_iot_iotda_is(3, "messages"))
    {
        route = NGX_HTTP_IOT_IOTDA_R_MESSAGES;

    } else if (n == 5 && ngx_http_iot_iotda_is(1, "devices")
               && ngx_http_iot_iotda_is(3, "messages"))
    {
        route = NGX_HTTP_IOT_IOTDA_R_MESSAGE;

    } else if (n == 4 && ngx_http_iot_iotda_is(1, "devices")) {
        route = ngx_http_iot_iotda_is(3, "action")
                ? NGX_HTTP_IOT_IOTDA_R_ACTION
                : (ngx_http_iot_iotda_is(3, "freeze")
                   || ngx_http_iot_iotda_is(3, "unfreeze"))
                ? NGX_HTTP_IOT_IOTDA_R_FREEZE
                : ngx_http_iot_iotda_is(3, "shadow")
                ? NGX_HTTP_IOT_IOTDA_R_SHADOW
                : ngx_http_iot_iotda_is(3, "commands")
                ? NGX_HTTP_IOT_IOTDA_R_COMMANDS : NGX_HTTP_IOT_IOTDA_R_NONE;

    } else if (n == 3 && ngx_http_iot_iotda_is(1, "tags")
               && (ngx_http_iot_iotda_is(2, "bind-resource")
                   || ngx_http_iot_iotda_is(2, "unbind-resource")))
    {
        route = NGX_HTTP_IOT_IOTDA_R_TAGS;
    }

#undef ngx_http_iot_iotda_is

    if (route == NGX_HTTP_IOT_IOTDA_R_NONE) {
        return NULL;
    }

    return &ngx_http_iot_iotda_routes[route];
}


/*
 * X-Auth-Token: an API token (or the admin token).  Authorization:
 * SDK-HMAC-SHA256 or V11-HMAC-SHA256 with an access key: the token it
 * belongs to is found and its principal taken here; the signature is
 * checked once the body is read (ngx_http_iot_iotda_verify()).
 */

static ngx_int_t
ngx_http_iot_iotda_credentials(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t   rc;
    ngx_str_t  *h;

    static ngx_str_t  authorization = ngx_string("Authorization");
    static ngx_str_t  auth_token = ngx_string("X-Auth-Token");

    if (ngx_http_iot_iotda_request_id(r) != NGX_OK) {
        return NGX_ERROR;
    }

    h = ngx_http_iot_header(r, &authorization);

    if (h) {
        return ngx_http_iot_iotda_signed(r, ctx, h);
    }

    h = ngx_http_iot_header(r, &auth_token);

    if (h == NULL) {
        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                         "IOTDA.000002 an X-Auth-Token or "
                                         "a signed Authorization header is "
                                         "required");
    }

    rc = ngx_iot_authenticate((ngx_cycle_t *) ngx_cycle, h, r->pool,
                              &ctx->who);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                         "IOTDA.000002 the X-Auth-Token is "
                                         "not known");
    }

    return ngx_http_iot_collections_scope(&ctx->who, r->pool);
}


/* a refusal noted, answered once by the caller: NGX_DECLINED */

ngx_int_t
ngx_http_iot_iotda_refuse(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_uint_t status, const char *message)
{
    ctx->status = status;
    ctx->message = message;

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_iot_iotda_invalid(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    return ngx_http_iot_iotda_refuse(r,
                                     ngx_http_get_module_ctx(r,
                                         ngx_http_iot_module),
                                     status, message);
}


/* Authorization: <algorithm> Access=|Credential=, SignedHeaders=, Signature= */

static ngx_int_t
ngx_http_iot_iotda_parse_auth(ngx_str_t *h, ngx_http_iot_iotda_auth_t *auth)
{
    u_char     *p, *last, *name, *eq, *end;
    size_t      len;
    ngx_str_t   credential;

    ngx_memzero(auth, sizeof(ngx_http_iot_iotda_auth_t));
    ngx_str_null(&credential);

    p = h->data;
    last = h->data + h->len;

    len = sizeof("SDK-HMAC-SHA256 ") - 1;

    if (h->len > len
        && ngx_strncmp(p, "SDK-HMAC-SHA256 ", len) == 0)
    {
        auth->v11 = 0;

    } else if (h->len > len
               && ngx_strncmp(p, "V11-HMAC-SHA256 ", len) == 0)
    {
        auth->v11 = 1;

    } else {
        return NGX_DECLINED;
    }

    p += len;

    while (p < last) {

        while (p < last && (*p == ' ' || *p == ',')) {
            p++;
        }

        if (p == last) {
            break;
        }

        name = p;

        eq = ngx_strlchr(p, last, '=');
        if (eq == NULL) {
            return NGX_DECLINED;
        }

        end = ngx_strlchr(eq, last, ',');
        if (end == NULL) {
            end = last;
        }

        len = eq - name;

#define ngx_http_iot_iotda_param(k)                                           \
    (len == sizeof(k) - 1 && ngx_strncmp(name, k, len) == 0)

        if (ngx_http_iot_iotda_param("Access") && !auth->v11) {
            auth->ak.data = eq + 1;
            auth->ak.len = end - eq - 1;

        } else if (ngx_http_iot_iotda_param("Credential") && auth->v11) {
            credential.data = eq + 1;
            credential.len = end - eq - 1;

        } else if (ngx_http_iot_iotda_param("SignedHeaders")) {
            auth->signed_headers.data = eq + 1;
            auth->signed_headers.len = end - eq - 1;

        } else if (ngx_http_iot_iotda_param("Signature")) {
            auth->signature.data = eq + 1;
            auth->signature.len = end - eq - 1;
        }

#undef ngx_http_iot_iotda_param

        p = end;
    }

    if (auth->v11) {
        /* Credential=<AK>/<yyyymmdd>/<region>/iotdm */

        if (credential.len == 0) {
            return NGX_DECLINED;
        }

        p = ngx_strlchr(credential.data, credential.data + credential.len,
                        '/');
        if (p == NULL) {
            return NGX_DECLINED;
        }

        auth->ak.data = credential.data;
        auth->ak.len = p - credential.data;
        auth->info.data = p + 1;
        auth->info.len = credential.data + credential.len - p - 1;

        if (auth->info.len < sizeof("yyyymmdd/r/iotdm") - 1
            || auth->info.len > 128
            || ngx_strncmp(auth->info.data + auth->info.len
                           - (sizeof("/iotdm") - 1), "/iotdm",
                           sizeof("/iotdm") - 1)
               != 0
            || auth->info.data[8] != '/')
        {
            return NGX_DECLINED;
        }
    }

    if (auth->ak.len == 0 || auth->signed_headers.len == 0
        || auth->signature.len != NGX_HTTP_IOT_IOTDA_HEX_LEN)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * What can be checked before the body is read: the form of the header,
 * the access key, the date and its skew, the signed headers (x-sdk-date
 * among them, each of them sent), X-Project-Id.  Then the principal of
 * the access key's token.
 */

static ngx_int_t
ngx_http_iot_iotda_signed(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_str_t *h)
{
    u_char                     *p, *last, *end;
    u_char                      hash[NGX_IOT_HASH_LEN];
    time_t                      t, now;
    uint64_t                    team, path_team;
    ngx_int_t                   rc;
    ngx_str_t                  *date, *v;
    ngx_uint_t                  has_date, i, iam;
    ngx_http_iot_iotda_auth_t   auth;

    if (ngx_http_iot_iotda_parse_auth(h, &auth) != NGX_OK) {
        ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_FORM, NULL);
        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                         "IOTDA.000002 the Authorization "
                                         "header is not an SDK-HMAC-SHA256 "
                                         "or V11-HMAC-SHA256 signature");
    }

    /*
     * An access key made at the credentials endpoint (IAM's form), or
     * the public prefix of an API token.
     */

    team = 0;
    iam = ngx_http_iot_iotda_iam_ak(&auth.ak);

    if (iam) {
        rc = ngx_http_iot_iotda_access_key(r, &auth.ak, &ctx->who, &team,
                                           NULL, 0, NULL);
        goto found;
    }

    for (i = 0; i < auth.ak.len; i++) {
        if (!((auth.ak.data[i] >= '0' && auth.ak.data[i] <= '9')
              || (auth.ak.data[i] >= 'a' && auth.ak.data[i] <= 'f')))
        {
            break;
        }
    }

    if (auth.ak.len != NGX_IOT_TOKEN_HINT_LEN || i != auth.ak.len) {
        goto unknown;
    }

    rc = ngx_iot_token_find_hash((ngx_cycle_t *) ngx_cycle, &auth.ak, hash,
                                 r->connection->log);

found:

    if (rc == NGX_ERROR) {
        return ngx_http_iot_iotda_refuse(r, ctx,
                                         NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "IOTDA.000003 the access key "
                                         "cannot be read now");
    }

    if (rc != NGX_OK) {
        goto unknown;
    }

    /* X-Sdk-Date: signed, and within the skew */

    date = ngx_http_iot_iotda_header(r, (u_char *) "x-sdk-date",
                                     sizeof("x-sdk-date") - 1);

    if (date == NULL || ngx_http_iot_iotda_date(date, &t) != NGX_OK) {
        ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_DATE,
                                 &auth.ak);
        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                         "IOTDA.000002 X-Sdk-Date is "
                                         "missing or not "
                                         "yyyyMMdd'T'HHmmss'Z'");
    }

    now = ngx_time();

    if (t > now + NGX_HTTP_IOT_IOTDA_SKEW
        || t < now - NGX_HTTP_IOT_IOTDA_SKEW)
    {
        ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_DATE,
                                 &auth.ak);
        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                         "IOTDA.000002 X-Sdk-Date is more "
                                         "than 15 minutes away from the "
                                         "server's time");
    }

    if (auth.v11 && ngx_strncmp(auth.info.data, date->data, 8) != 0) {
        ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_DATE,
                                 &auth.ak);
        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                         "IOTDA.000002 the credential's "
                                         "date is not X-Sdk-Date's");
    }

    /* every signed header sent, x-sdk-date among them */

    has_date = 0;
    p = auth.signed_headers.data;
    last = p + auth.signed_headers.len;

    while (p <= last) {
        end = ngx_strlchr(p, last, ';');
        if (end == NULL) {
            end = last;
        }

        if (end - p == sizeof("x-sdk-date") - 1
            && ngx_strncmp(p, "x-sdk-date", end - p) == 0)
        {
            has_date = 1;
        }

        if (end == p
            || ngx_http_iot_iotda_header(r, p, end - p) == NULL)
        {
            ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_HEADER,
                                     &auth.ak);
            return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                             "IOTDA.000002 a signed header "
                                             "is missing from the request");
        }

        p = end + 1;
    }

    if (!has_date) {
        ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_HEADER,
                                 &auth.ak);
        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                         "IOTDA.000002 x-sdk-date must be "
                                         "a signed header");
    }

    /* X-Project-Id, when sent, is the path's project */

    v = ngx_http_iot_iotda_header(r, (u_char *) "x-project-id",
                                  sizeof("x-project-id") - 1);

    if (v && ctx->nseg && !ngx_http_iot_iotda_iam(r)
        && (v->len != ctx->seg[0].len
            || ngx_strncmp(v->data, ctx->seg[0].data, v->len) != 0))
    {
        ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_PROJECT,
                                 &auth.ak);
        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_FORBIDDEN,
                                         "IOTDA.000022 X-Project-Id is not "
                                         "the project of the path");
    }

    if (iam) {
        /* the key's team must be the path's project */

        if (ctx->nseg && !ngx_http_iot_iotda_iam(r)
            && (ngx_http_iot_iotda_project(&ctx->seg[0], &path_team)
                != NGX_OK
                || path_team != team))
        {
            ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_PROJECT,
                                     &auth.ak);
            return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_FORBIDDEN,
                                             "IOTDA.000022 the access key "
                                             "does not own this project");
        }

        /* the key acts within its team alone, as a member of it */

        ctx->who.pool = r->pool;
        ctx->who.team_id = team;
        ctx->who.teams = ngx_palloc(r->pool, sizeof(uint64_t));
        ctx->who.roles = ngx_palloc(r->pool, 1);

        if (ctx->who.teams == NULL || ctx->who.roles == NULL) {
            return NGX_ERROR;
        }

        ctx->who.teams[0] = team;
        ctx->who.roles[0] = NGX_IOT_ROLE_MEMBER;
        ctx->who.nteams = 1;
        ctx->who.loaded = 1;

        return NGX_OK;
    }

    rc = ngx_iot_token_principal((ngx_cycle_t *) ngx_cycle, hash, r->pool,
                                 &ctx->who);

    ngx_explicit_memzero(hash, sizeof(hash));

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        goto unknown;
    }

    return ngx_http_iot_collections_scope(&ctx->who, r->pool);

unknown:

    ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_KEY, &auth.ak);

    return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                     "IOTDA.000002 the access key is not "
                                     "known");
}


/*
 * The signature, over the request as received and the hash of its body
 * (or X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD, for an empty body only):
 * NGX_OK, NGX_DECLINED (refused), NGX_BUSY (the key cannot be read now).
 */

static ngx_int_t
ngx_http_iot_iotda_verify(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    u_char *body, size_t len)
{
    u_char                        *p, *last, *end, *scratch;
    u_char                         sk[NGX_HTTP_IOT_IOTDA_HEX_LEN];
    u_char                         key[NGX_HTTP_IOT_IOTDA_HEX_LEN];
    u_char                         canonical[NGX_HTTP_IOT_IOTDA_HEX_LEN];
    u_char                         sig[NGX_HTTP_IOT_IOTDA_HEX_LEN];
    u_char                         body_hash[NGX_HTTP_IOT_IOTDA_HEX_LEN];
    size_t                         size, n, sk_len;
    ngx_int_t                      rc;
    ngx_str_t                     *h, *date, *v;
    ngx_http_iot_iotda_auth_t      auth;
    ngx_http_iot_iotda_bytes_t     b_date, b_sk, b_ak, b_info;
    ngx_http_iot_iotda_request_t   req;

    static ngx_str_t  authorization = ngx_string("Authorization");

    h = ngx_http_iot_header(r, &authorization);

    if (h == NULL) {
        /* X-Auth-Token */
        return NGX_OK;
    }

    if (ngx_http_iot_iotda_parse_auth(h, &auth) != NGX_OK) {
        return NGX_DECLINED;
    }

    date = ngx_http_iot_iotda_header(r, (u_char *) "x-sdk-date",
                                     sizeof("x-sdk-date") - 1);
    if (date == NULL) {
        return NGX_DECLINED;
    }

    /* the values of the signed headers, in the list's order */

    n = 1;

    for (p = auth.signed_headers.data;
         p < auth.signed_headers.data + auth.signed_headers.len;
         p++)
    {
        n += (*p == ';');
    }

    req.values = ngx_palloc(r->pool, n * sizeof(ngx_http_iot_iotda_bytes_t));
    if (req.values == NULL) {
        return NGX_ERROR;
    }

    req.nvalues = 0;
    p = auth.signed_headers.data;
    last = p + auth.signed_headers.len;

    while (p <= last) {
        end = ngx_strlchr(p, last, ';');
        if (end == NULL) {
            end = last;
        }

        v = ngx_http_iot_iotda_header(r, p, end - p);
        if (v == NULL) {
            return NGX_DECLINED;
        }

        req.values[req.nvalues].data = v->data;
        req.values[req.nvalues].len = v->len;
        req.nvalues++;

        p = end + 1;
    }

    req.method.data = r->method_name.data;
    req.method.len = r->method_name.len;

    req.path.data = r->unparsed_uri.data;
    end = ngx_strlchr(r->unparsed_uri.data,
                      r->unparsed_uri.data + r->unparsed_uri.len, '?');
    req.path.len = (end ? end : r->unparsed_uri.data + r->unparsed_uri.len)
                   - r->unparsed_uri.data;

    req.query.data = r->args.data;
    req.query.len = r->args.len;
    req.signed_headers.data = auth.signed_headers.data;
    req.signed_headers.len = auth.signed_headers.len;
    /* the body's hash: signed requests only, an X-Auth-Token needs none */

    ngx_http_iot_iotda_sha256_hex(body, len, body_hash);

    req.body_hash.data = body_hash;
    req.body_hash.len = NGX_HTTP_IOT_IOTDA_HEX_LEN;

    v = ngx_http_iot_iotda_header(r, (u_char *) "x-sdk-content-sha256",
                                  sizeof("x-sdk-content-sha256") - 1);

    if (v && v->len == sizeof("UNSIGNED-PAYLOAD") - 1
        && ngx_strncmp(v->data, "UNSIGNED-PAYLOAD", v->len) == 0)
    {
        /* the body is not signed: only when there is none */

        if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
            return NGX_DECLINED;
        }

        req.body_hash.data = v->data;
        req.body_hash.len = v->len;
    }

    size = ngx_http_iot_iotda_scratch_size(&req);

    scratch = ngx_pnalloc(r->pool, size);
    if (scratch == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_iot_iotda_canonical_hash(&req, scratch, size, canonical)
        != 0)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_iot_iotda_iam_ak(&auth.ak)) {
        /* read again: the key may have been deleted meanwhile */

        rc = ngx_http_iot_iotda_access_key(r, &auth.ak, NULL, NULL, sk,
                                           sizeof(sk), &sk_len);
        if (rc != NGX_OK) {
            /* NGX_ERROR: the store cannot be read now */
            return (rc == NGX_ERROR) ? NGX_BUSY : rc;
        }

    } else {
        ngx_http_iot_iotda_secret_key(ctx->who.hash, sk);
        sk_len = sizeof(sk);
    }

    b_date.data = date->data;
    b_date.len = date->len;
    b_sk.data = sk;
    b_sk.len = sk_len;

    if (auth.v11) {
        b_ak.data = auth.ak.data;
        b_ak.len = auth.ak.len;
        b_info.data = auth.info.data;
        b_info.len = auth.info.len;

        rc = (ngx_http_iot_iotda_v11_key(&b_ak, &b_sk, &b_info, key) == 0
              && ngx_http_iot_iotda_v11_signature(canonical, &b_date,
                                                  &b_info, key, sig)
                 == 0)
             ? NGX_OK : NGX_ERROR;

        ngx_explicit_memzero(key, sizeof(key));

    } else {
        rc = (ngx_http_iot_iotda_sdk_signature(canonical, &b_date, &b_sk,
                                               sig)
              == 0)
             ? NGX_OK : NGX_ERROR;
    }

    ngx_explicit_memzero(sk, sizeof(sk));

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_iot_iotda_equal(sig, auth.signature.data,
                                    NGX_HTTP_IOT_IOTDA_HEX_LEN)
           ? NGX_OK : NGX_DECLINED;
}


/*
 * The secret key of an access key: the hex HMAC-SHA256, keyed with the
 * SHA-256 of its token (what the store keeps), of a fixed text.  Whoever
 * holds the token computes it (docs/iotda.md); it is never sent.
 */

static void
ngx_http_iot_iotda_secret_key(u_char *hash, u_char *sk)
{
    static u_char  label[] = "nginx-iot iotda secret key";

    (void) ngx_http_iot_iotda_hmac_hex(hash, NGX_IOT_HASH_LEN, label,
                                       sizeof(label) - 1, sk);
}


/* a request header by its lower-case name, its first value */

static ngx_str_t *
ngx_http_iot_iotda_header(ngx_http_request_t *r, u_char *name, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, name, len) == 0)
        {
            return &h[i].value;
        }
    }
}


/* X-Sdk-Date, and the times of lists: yyyyMMdd'T'HHmmss'Z' */

ngx_int_t
ngx_http_iot_iotda_date(ngx_str_t *date, time_t *t)
{
    u_char      *p;
    ngx_int_t    y, mo, d, h, mi, s;
    ngx_uint_t   i;

    static ngx_int_t  mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };

    p = date->data;

    if (date->len != sizeof("yyyyMMddTHHmmssZ") - 1 || p[8] != 'T'
        || p[15] != 'Z')
    {
        return NGX_ERROR;
    }

    for (i = 0; i < 15; i++) {
        if (i != 8 && (p[i] < '0' || p[i] > '9')) {
            return NGX_ERROR;
        }
    }

    y = ngx_atoi(p, 4);
    mo = ngx_atoi(p + 4, 2);
    d = ngx_atoi(p + 6, 2);
    h = ngx_atoi(p + 9, 2);
    mi = ngx_atoi(p + 11, 2);
    s = ngx_atoi(p + 13, 2);

    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]
        || h > 23 || mi > 59 || s > 59)
    {
        return NGX_ERROR;
    }

    /* days since the epoch of a date of the Gregorian calendar */

    y -= (mo <= 2);
    *t = (time_t) ((y / 400) * 146097
                   + (y % 400) * 365 + (y % 400) / 4 - (y % 400) / 100
                   + (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
                   - 719468)
         * 86400 + h * 3600 + mi * 60 + s;

    return NGX_OK;
}


/*
 * A project id of the path (or an access key's user_id): the team it
 * names, written as Huawei writes project ids (the team UUID's 32 hex
 * digits), as a UUID, or as the collections dialect's teamId, through the
 * core's one mapping (ngx_iot_team_resolve).  Any team of the
 * installation: whether the credentials reach it is for the caller to
 * check.  NGX_OK; NGX_DECLINED for a project of no team here; NGX_ERROR.
 */

ngx_int_t
ngx_http_iot_iotda_project(ngx_str_t *s, uint64_t *team_id)
{
    u_char               uuid[NGX_IOT_UUID_SIZE];
    ngx_iot_principal_t  any;

    ngx_memzero(&any, sizeof(ngx_iot_principal_t));
    any.admin = 1;

    return ngx_iot_team_resolve((ngx_cycle_t *) ngx_cycle, &any, s->data,
                                s->len, team_id, uuid);
}


/* a team's project id: its UUID's 32 hex digits (out: 32 bytes) */

void
ngx_http_iot_iotda_project_id(uint64_t team_id, u_char *out)
{
    u_char  uuid[NGX_IOT_UUID_SIZE];

    if (ngx_iot_team_uuid_of((ngx_cycle_t *) ngx_cycle, team_id, uuid)
        != NGX_OK)
    {
        ngx_memzero(uuid, NGX_IOT_UUID_SIZE);
    }

    (void) ngx_hex_dump(out, uuid, NGX_IOT_UUID_SIZE);
}


/*
 * The project: a team of the credentials' user (ngx_iot_team_resolve),
 * any team for the administrator.  The request then acts within that
 * team alone: the principal keeps only that membership (the
 * administrator: as an Admin member of it), so the core's check refuses
 * every resource space (collection) of another team.  Writes need
 * credentials that may write.  Which resource spaces a principal reaches
 * is checked by each route.  The credentials endpoint is the
 * administrator's.
 */

static ngx_int_t
ngx_http_iot_iotda_authorize(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char      uuid[NGX_IOT_UUID_SIZE];
    uint64_t    team;
    ngx_int_t   rc;
    ngx_str_t  *s;

    static ngx_str_t  authorization = ngx_string("Authorization");

    if (ctx->route->arg == NGX_HTTP_IOT_IOTDA_R_KEYS
        || ctx->route->arg == NGX_HTTP_IOT_IOTDA_R_KEY)
    {
        if (!ctx->who.admin) {
            return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_FORBIDDEN,
                                             "IAM.0003 only the "
                                             "administrator manages access "
                                             "keys");
        }

        return NGX_OK;
    }

    s = &ctx->seg[0];

    rc = ngx_iot_team_resolve((ngx_cycle_t *) ngx_cycle, &ctx->who, s->data,
                              s->len, &team, uuid);

    if (rc == NGX_ERROR) {
        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "IOTDA.000003 the store cannot be "
                                         "read");
    }

    if (rc != NGX_OK
        || (!ctx->who.admin && ngx_iot_auth_only(&ctx->who, team) != NGX_OK))
    {
        if (ngx_http_iot_header(r, &authorization)) {
            /* a signed request: its key does not own the project */
            ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_PROJECT,
                                     NULL);
        }

        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_FORBIDDEN,
                                         "IOTDA.000022 the credentials do "
                                         "not own this project");
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) && !ctx->who.write) {
        return ngx_http_iot_iotda_refuse(r, ctx, NGX_HTTP_FORBIDDEN,
                                         "IOTDA.000022 the credentials are "
                                         "read-only");
    }

    /* the administrator, too, acts within the project it names */

    if (ctx->who.admin
        && ngx_iot_auth_confine(&ctx->who, team, r->pool) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A refused signature: counted in the zone ($iot_iotda_stats) and logged
 * at info with its access key (public; never a secret).
 */

void
ngx_http_iot_iotda_count(ngx_http_request_t *r,
    ngx_http_iot_iotda_refused_e why, ngx_str_t *ak)
{
    ngx_iot_conf_t  *icf;

    static const char  *reasons[] = {
        "not a signature",
        "an unknown access key",
        "X-Sdk-Date missing, malformed or stale",
        "a signed header missing",
        "a project the key does not own",
        "a signature that does not match the request"
    };

    icf = ngx_iot_get_conf((ngx_cycle_t *) ngx_cycle);

    if (icf && icf->shm_zone) {
        (void) ngx_atomic_fetch_add(
                   &ngx_iot_zone_ctx((ngx_cycle_t *) ngx_cycle)->sh
                       ->signatures[why], 1);
    }

    if (ak && ak->len <= 64) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot iotda: signed request refused: %s "
                      "(access key \"%V\")", reasons[why], ak);

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot iotda: signed request refused: %s",
                      reasons[why]);
    }
}


/* $iot_iotda_stats: the refused signatures of every worker, as JSON */

static ngx_int_t
ngx_http_iot_iotda_stats(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char             *p;
    ngx_uint_t          i;
    ngx_atomic_t       *n;
    ngx_iot_conf_t     *icf;
    ngx_atomic_uint_t   total;

    icf = ngx_iot_get_conf((ngx_cycle_t *) ngx_cycle);

    if (icf == NULL || icf->shm_zone == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    n = ngx_iot_zone_ctx((ngx_cycle_t *) ngx_cycle)->sh->signatures;

    total = 0;

    for (i = 0; i < NGX_HTTP_IOT_IOTDA_REFUSED_LAST; i++) {
        total += n[i];
    }

    p = ngx_pnalloc(r->pool, 7 * NGX_ATOMIC_T_LEN
                    + sizeof("{\"refused\":,\"form\":,\"unknown_key\":,"
                             "\"date\":,\"header\":,\"project\":,"
                             "\"signature\":}"));
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "{\"refused\":%uA,\"form\":%uA,"
                         "\"unknown_key\":%uA,\"date\":%uA,"
                         "\"header\":%uA,\"project\":%uA,"
                         "\"signature\":%uA}",
                         total, n[NGX_HTTP_IOT_IOTDA_REFUSED_FORM],
                         n[NGX_HTTP_IOT_IOTDA_REFUSED_KEY],
                         n[NGX_HTTP_IOT_IOTDA_REFUSED_DATE],
                         n[NGX_HTTP_IOT_IOTDA_REFUSED_HEADER],
                         n[NGX_HTTP_IOT_IOTDA_REFUSED_PROJECT],
                         n[NGX_HTTP_IOT_IOTDA_REFUSED_SIGNATURE])
             - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_iot_iotda_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    static ngx_str_t  name = ngx_string("iot_iotda_stats");

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_iot_iotda_stats;

    return ngx_iot_metrics_add_source(cf->cycle, ngx_http_iot_iotda_metrics,
                                      NULL);
}


/* the same counts for the metrics endpoint (ngx_iot_metrics.h) */

static ngx_int_t
ngx_http_iot_iotda_metrics(ngx_iot_metrics_t *m, void *data)
{
    ngx_uint_t     i;
    ngx_atomic_t  *n;

    static const char  *name = "nginx_iot_iotda_signatures_refused_total";
    static const char  *labels[NGX_HTTP_IOT_IOTDA_REFUSED_LAST] = {
        "reason=\"form\"",
        "reason=\"unknown_key\"",
        "reason=\"date\"",
        "reason=\"header\"",
        "reason=\"project\"",
        "reason=\"signature\""
    };

    n = ngx_iot_zone_ctx((ngx_cycle_t *) ngx_cycle)->sh->signatures;

    if (ngx_iot_metrics_family(m, name, "counter",
                               "AK/SK signed requests the iotda dialect "
                               "refused, by reason.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_IOT_IOTDA_REFUSED_LAST; i++) {
        if (ngx_iot_metrics_sample(m, name, labels[i], n[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* every route reads its body itself: a signature covers its bytes */

static ngx_uint_t
ngx_http_iot_iotda_own_body(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    return 1;
}


static ngx_int_t
ngx_http_iot_iotda_entry(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ngx_http_iot_body_too_large(r)) {
        ngx_http_discard_request_body(r);
        return ngx_http_iot_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "IOTDA.000006 the body is larger than "
                                  "client_max_body_size");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_iot_iotda_body);

    if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return ngx_http_iot_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "IOTDA.000006 the body is larger than "
                                  "client_max_body_size");
    }

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* the body is here: the signature over it, its JSON, the handler */

static void
ngx_http_iot_iotda_body(ngx_http_request_t *r)
{
    u_char                        *data, *p;
    size_t                         len;
    ssize_t                        n;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl;
    json_error_t                   jerr;
    ngx_pool_cleanup_t            *cln;
    ngx_http_iot_ctx_t            *ctx;
    ngx_http_iot_iotda_handler_t  *hd;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    hd = &ngx_http_iot_iotda_handlers[ctx->route->arg];

    len = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            b = cl->buf;
            len += b->in_file ? (size_t) (b->file_last - b->file_pos)
                              : (size_t) (b->last - b->pos);
        }
    }

    data = ngx_pnalloc(r->pool, len + 1);
    if (data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = data;

    if (len) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            b = cl->buf;

            if (b->in_file) {
                n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                                  b->file_pos);
                if (n != b->file_last - b->file_pos) {
                    ngx_http_finalize_request(r,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR);
                    return;
                }

                p += n;

            } else {
                p = ngx_cpymem(p, b->pos, b->last - b->pos);
            }
        }
    }

    rc = ngx_http_iot_iotda_verify(r, ctx, data, len);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == NGX_BUSY) {
        ngx_http_finalize_request(r,
            ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "IOTDA.000003 the access key cannot be read "
                               "now"));
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_iot_iotda_count(r, NGX_HTTP_IOT_IOTDA_REFUSED_SIGNATURE,
                                 NULL);
        ngx_http_finalize_request(r,
            ngx_http_iot_error(r, NGX_HTTP_UNAUTHORIZED,
                               "IOTDA.000002 the signature does not match "
                               "the request"));
        return;
    }

    if ((r->method & hd->json) && !(len == 0 && hd->optional)) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        cln->handler = ngx_http_iot_iotda_body_free;
        cln->data = ctx;

        ctx->body = len ? json_loadb((char *) data, len,
                                     JSON_REJECT_DUPLICATES, &jerr)
                        : NULL;

        if (ctx->body == NULL || !json_is_object(ctx->body)) {
            ngx_http_finalize_request(r,
                ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                   "IOTDA.000008 the body must be a JSON "
                                   "object"));
            return;
        }
    }

    ngx_http_finalize_request(r, hd->handler(r, ctx));
}


static void
ngx_http_iot_iotda_body_free(void *data)
{
    ngx_http_iot_ctx_t  *ctx = data;

    json_decref(ctx->body);
    ctx->body = NULL;
}


/* X-Request-Id: on every answer, 32 random hex digits */

static ngx_int_t
ngx_http_iot_iotda_request_id(ngx_http_request_t *r)
{
    u_char            raw[16];
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == sizeof("X-Request-Id") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Request-Id",
                               h[i].key.len)
               == 0)
        {
            return NGX_OK;
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value.data = ngx_pnalloc(r->pool, 2 * sizeof(raw));
    if (h->value.data == NULL) {
        h->hash = 0;
        return NGX_ERROR;
    }

    if (ngx_iot_random(raw, sizeof(raw)) != NGX_OK) {
        ngx_memzero(raw, sizeof(raw));
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Request-Id");
    h->value.len = ngx_hex_dump(h->value.data, raw, sizeof(raw))
                   - h->value.data;

    return NGX_OK;
}


/*
 * {"error_code":"IOTDA.xxxxxx","error_msg":"..."}: the code the message
 * starts with, or the status's (docs/iotda.md).
 */

static ngx_buf_t *
ngx_http_iot_iotda_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    size_t       len, size;
    ngx_buf_t   *b;
    ngx_str_t    code;
    ngx_uint_t   i;

    static struct {
        ngx_uint_t  status;
        ngx_str_t   code;
    } codes[] = {
        { 400, ngx_string("IOTDA.000006") },
        { 401, ngx_string("IOTDA.000002") },
        { 403, ngx_string("IOTDA.000022") },
        { 404, ngx_string("IOTDA.000004") },
        { 405, ngx_string("IOTDA.000005") },
        { 409, ngx_string("IOTDA.014031") },
        { 413, ngx_string("IOTDA.000006") },
        { 503, ngx_string("IOTDA.000003") },
        { 0, ngx_string("IOTDA.000001") }
    };

    if (ngx_http_iot_iotda_request_id(r) != NGX_OK) {
        return NULL;
    }

    len = ngx_strlen(message);

    if (len > NGX_HTTP_IOT_IOTDA_CODE_LEN
        && ngx_strncmp(message, "IOTDA.", sizeof("IOTDA.") - 1) == 0
        && message[NGX_HTTP_IOT_IOTDA_CODE_LEN] == ' ')
    {
        code.data = (u_char *) message;
        code.len = NGX_HTTP_IOT_IOTDA_CODE_LEN;
        message += NGX_HTTP_IOT_IOTDA_CODE_LEN + 1;
        len -= NGX_HTTP_IOT_IOTDA_CODE_LEN + 1;

    } else if (len > NGX_HTTP_IOT_IOTDA_IAM_CODE_LEN
               && ngx_strncmp(message, "IAM.", sizeof("IAM.") - 1) == 0
               && message[NGX_HTTP_IOT_IOTDA_IAM_CODE_LEN] == ' ')
    {
        /* the credentials endpoint's: IAM.xxxx */
        code.data = (u_char *) message;
        code.len = NGX_HTTP_IOT_IOTDA_IAM_CODE_LEN;
        message += NGX_HTTP_IOT_IOTDA_IAM_CODE_LEN + 1;
        len -= NGX_HTTP_IOT_IOTDA_IAM_CODE_LEN + 1;

    } else {
        for (i = 0; codes[i].status; i++) {
            if (codes[i].status == status) {
                break;
            }
        }

        code = codes[i].code;
    }

    size = sizeof("{\"error_code\":\"\",\"error_msg\":\"\"}") + code.len
           + len + ngx_escape_json(NULL, (u_char *) message, len);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "{\"error_code\":\"%V\",\"error_msg\":\"",
                          &code);
    b->last = (u_char *) ngx_escape_json(b->last, (u_char *) message, len);
    b->last = ngx_cpymem(b->last, "\"}", 2);

    return b;
}


/*
 * May who reach collection cid (write: and change it)?  A token narrower
 * than a collection (one device of the collections dialect) reaches no
 * resource space here.
 */

ngx_uint_t
ngx_http_iot_iotda_reaches(ngx_iot_principal_t *who, uint64_t cid,
    ngx_uint_t write)
{
    return ngx_iot_auth_allows(who, cid, write)
           && ngx_http_iot_collections_reaches(who, cid);
}


/* create_time: yyyyMMdd'T'HHmmss'Z' */

u_char *
ngx_http_iot_iotda_time(u_char *p, uint64_t ms)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (ms / 1000), &tm);

    return ngx_sprintf(p, "%4d%02d%02dT%02d%02d%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


ngx_int_t
ngx_http_iot_iotda_send_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *json)
{
    ngx_str_t   text;
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);

    if (b == NULL || ngx_http_iot_iotda_json_text(r->pool, json, &text)
                     != NGX_OK)
    {
        json_decref(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_decref(json);

    b->pos = text.data;
    b->last = text.data + text.len;
    b->temporary = 1;

    return ngx_http_iot_send(r, status, b);
}


/*
 * JSON as compact text in the pool: dumped once into a guess of its
 * size, a second time only when it is longer (a dump costs more than the
 * memory).
 */

ngx_int_t
ngx_http_iot_iotda_json_text(ngx_pool_t *pool, json_t *j, ngx_str_t *out)
{
    size_t  size, len;

    size = 1024;

    for ( ;; ) {
        out->data = ngx_pnalloc(pool, size);
        if (out->data == NULL) {
            return NGX_ERROR;
        }

        len = json_dumpb(j, (char *) out->data, size, JSON_COMPACT);

        if (len <= size) {
            out->len = len;
            return NGX_OK;
        }

        size = len;
    }
}


/* at a worker's exit, before the module is unloaded (valgrind) */

static void
ngx_http_iot_iotda_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_iot_iotda_models_free(cycle);
    ngx_http_iot_iotda_sign_free();
}
