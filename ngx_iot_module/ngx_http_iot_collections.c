
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect: the device API of Telenor's NB-IoT platform
 * ("Horde").  Routes, JSON field names, its auth rules (X-API-Token with a
 * resource prefix) and its error format {"status":N,"message":"..."}.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"


typedef enum {
    NGX_HTTP_IOT_R_ROOT = 0,
    NGX_HTTP_IOT_R_SYSTEM,
    NGX_HTTP_IOT_R_COLLECTIONS,
    NGX_HTTP_IOT_R_COLLECTION,
    NGX_HTTP_IOT_R_COLLECTION_TAGS,
    NGX_HTTP_IOT_R_COLLECTION_TAG,
    NGX_HTTP_IOT_R_DEVICES,
    NGX_HTTP_IOT_R_DEVICE,
    NGX_HTTP_IOT_R_DEVICE_TAGS,
    NGX_HTTP_IOT_R_DEVICE_TAG,
    NGX_HTTP_IOT_R_TOKENS,
    NGX_HTTP_IOT_R_TOKEN,
    NGX_HTTP_IOT_R_DATA,
    NGX_HTTP_IOT_R_DEVICE_DATA,
    NGX_HTTP_IOT_R_FROM,
    NGX_HTTP_IOT_R_DEVICE_FROM,
    NGX_HTTP_IOT_R_TO,
    NGX_HTTP_IOT_R_DEVICE_TO,
    NGX_HTTP_IOT_R_NONE
} ngx_http_iot_route_e;


#define NGX_HTTP_IOT_M_GET     (NGX_HTTP_GET|NGX_HTTP_HEAD)
#define NGX_HTTP_IOT_M_ITEM    (NGX_HTTP_IOT_M_GET|NGX_HTTP_PATCH            \
                                |NGX_HTTP_DELETE)
#define NGX_HTTP_IOT_M_LIST    (NGX_HTTP_IOT_M_GET|NGX_HTTP_POST)
#define NGX_HTTP_IOT_M_TAGS    (NGX_HTTP_IOT_M_GET|NGX_HTTP_PATCH)

/* room for a rendered entity besides its tags and resource */
#define NGX_HTTP_IOT_ENTITY_LEN  512


typedef struct {
    ngx_uint_t                 methods;
    ngx_str_t                  allow;
} ngx_http_iot_route_t;


static ngx_http_iot_route_t  ngx_http_iot_routes[] = {
    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD") },
    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD") },
    { NGX_HTTP_IOT_M_LIST, ngx_string("GET, HEAD, POST") },
    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE") },
    { NGX_HTTP_IOT_M_TAGS, ngx_string("GET, HEAD, PATCH") },
    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE") },
    { NGX_HTTP_IOT_M_LIST, ngx_string("GET, HEAD, POST") },
    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE") },
    { NGX_HTTP_IOT_M_TAGS, ngx_string("GET, HEAD, PATCH") },
    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE") },
    { NGX_HTTP_IOT_M_LIST, ngx_string("GET, HEAD, POST") },
    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE") },
    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD") },
    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD") },
    { NGX_HTTP_GET, ngx_string("GET") },
    { NGX_HTTP_GET, ngx_string("GET") },
    { NGX_HTTP_POST, ngx_string("POST") },
    { NGX_HTTP_POST, ngx_string("POST") }
};


ngx_int_t ngx_http_iot_collections_handler(ngx_http_request_t *r);

static ngx_http_iot_route_e ngx_http_iot_route(ngx_http_iot_ctx_t *ctx);
static void ngx_http_iot_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_dispatch(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message);
static ngx_int_t ngx_http_iot_invalid(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
static ngx_int_t ngx_http_iot_reject(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_rc_error(ngx_http_request_t *r,
    ngx_iot_rc_e rc, const char *what);
static ngx_int_t ngx_http_iot_forbidden(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_http_iot_route_e route);
static ngx_int_t ngx_http_iot_path_id(ngx_str_t *seg, uint64_t *id);

static ngx_int_t ngx_http_iot_root(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_system(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_collections(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_collection(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_devices(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_device(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_tags(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_http_iot_route_e route);
static ngx_int_t ngx_http_iot_tokens(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_token(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_target(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_uint_t device, uint64_t *cid, uint64_t *did,
    ngx_iot_device_t *d);
static ngx_int_t ngx_http_iot_stream(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_uint_t device);
static ngx_int_t ngx_http_iot_data(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_uint_t device);
static ngx_int_t ngx_http_iot_downlink(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_uint_t device);

static ngx_int_t ngx_http_iot_send_collection(ngx_http_request_t *r,
    ngx_uint_t status, ngx_iot_collection_t *c);
static ngx_int_t ngx_http_iot_send_device(ngx_http_request_t *r,
    ngx_uint_t status, ngx_iot_device_t *d);
static ngx_int_t ngx_http_iot_send_token(ngx_http_request_t *r,
    ngx_uint_t status, ngx_iot_token_t *t, u_char *secret);
static ngx_int_t ngx_http_iot_list_params(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, ngx_uint_t text_key);


static ngx_str_t  ngx_http_iot_token_header = ngx_string("X-API-Token");


ngx_int_t
ngx_http_iot_collections_handler(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t             *token, arg;
    ngx_uint_t             query;
    ngx_table_elt_t       *allow;
    ngx_http_iot_ctx_t    *ctx;
    ngx_http_iot_route_e   route;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_iot_module);

    if (ngx_http_iot_split_path(r, ctx) == NGX_OK) {
        route = ngx_http_iot_route(ctx);

    } else {
        route = NGX_HTTP_IOT_R_NONE;
    }

    query = 0;
    token = ngx_http_iot_header(r, &ngx_http_iot_token_header);

    if (token == NULL
        && (route == NGX_HTTP_IOT_R_FROM || route == NGX_HTTP_IOT_R_DEVICE_FROM)
        && ngx_http_arg(r, (u_char *) "api_token", 9, &arg) == NGX_OK)
    {
        /* WebSocket clients often cannot send headers */
        token = &arg;
        query = 1;
    }

    if (token == NULL) {
        ngx_http_discard_request_body(r);
        return ngx_http_iot_error(r, NGX_HTTP_UNAUTHORIZED,
                                  "an X-API-Token header is required");
    }

    rc = ngx_iot_authenticate((ngx_cycle_t *) ngx_cycle, token, r->pool,
                              &ctx->who);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_discard_request_body(r);
        return ngx_http_iot_error(r, NGX_HTTP_UNAUTHORIZED,
                                  "the API token is not known");
    }

    if (query && ctx->who.write) {
        /* a token in a URL ends up in logs: it may only read */
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "tokens in WebSockets must be read-only");
    }

    if (route == NGX_HTTP_IOT_R_NONE) {
        ngx_http_discard_request_body(r);
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "no such resource");
    }

    if (!(r->method & ngx_http_iot_routes[route].methods)) {
        ngx_http_discard_request_body(r);

        allow = ngx_list_push(&r->headers_out.headers);
        if (allow == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        allow->hash = 1;
        ngx_str_set(&allow->key, "Allow");
        allow->value = ngx_http_iot_routes[route].allow;

        return ngx_http_iot_error(r, NGX_HTTP_NOT_ALLOWED,
                                  "method not allowed on this resource");
    }

    rc = ngx_http_iot_forbidden(r, ctx, route);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_discard_request_body(r);
        return ngx_http_iot_reject(r);
    }

    if (r->method & (NGX_HTTP_POST|NGX_HTTP_PATCH)) {

        if (ngx_http_iot_body_too_large(r)) {
            ngx_http_discard_request_body(r);
            return ngx_http_iot_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "the body is larger than "
                                      "client_max_body_size");
        }

        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r, ngx_http_iot_body_handler);

        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            return ngx_http_iot_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "the body is larger than "
                                      "client_max_body_size");
        }

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_iot_dispatch(r, ctx);
}


static void
ngx_http_iot_body_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    const char          *err;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    rc = ngx_http_iot_read_json(r, &ctx->body, &err);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_finalize_request(r,
                                  ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                                     err));
        return;
    }

    rc = ngx_http_iot_dispatch(r, ctx);

    json_decref(ctx->body);
    ctx->body = NULL;

    ngx_http_finalize_request(r, rc);
}


static ngx_http_iot_route_e
ngx_http_iot_route(ngx_http_iot_ctx_t *ctx)
{
    ngx_str_t  *s;

    s = ctx->seg;

#define ngx_http_iot_is(n, name)                                              \
    (s[n].len == sizeof(name) - 1                                             \
     && ngx_strncmp(s[n].data, name, sizeof(name) - 1) == 0)

    switch (ctx->nseg) {

    case 0:
        return NGX_HTTP_IOT_R_ROOT;

    case 1:
        if (ngx_http_iot_is(0, "system")) {
            return NGX_HTTP_IOT_R_SYSTEM;
        }

        if (ngx_http_iot_is(0, "collections")) {
            return NGX_HTTP_IOT_R_COLLECTIONS;
        }

        if (ngx_http_iot_is(0, "tokens")) {
            return NGX_HTTP_IOT_R_TOKENS;
        }

        return NGX_HTTP_IOT_R_NONE;

    case 2:
        if (ngx_http_iot_is(0, "collections")) {
            return NGX_HTTP_IOT_R_COLLECTION;
        }

        if (ngx_http_iot_is(0, "tokens")) {
            return NGX_HTTP_IOT_R_TOKEN;
        }

        return NGX_HTTP_IOT_R_NONE;
    }

    if (!ngx_http_iot_is(0, "collections")) {
        return NGX_HTTP_IOT_R_NONE;
    }

    switch (ctx->nseg) {

    case 3:
        if (ngx_http_iot_is(2, "tags")) {
            return NGX_HTTP_IOT_R_COLLECTION_TAGS;
        }

        if (ngx_http_iot_is(2, "data")) {
            return NGX_HTTP_IOT_R_DATA;
        }

        if (ngx_http_iot_is(2, "from")) {
            return NGX_HTTP_IOT_R_FROM;
        }

        if (ngx_http_iot_is(2, "to")) {
            return NGX_HTTP_IOT_R_TO;
        }

        if (ngx_http_iot_is(2, "devices")) {
            return NGX_HTTP_IOT_R_DEVICES;
        }

        return NGX_HTTP_IOT_R_NONE;

    case 4:
        if (ngx_http_iot_is(2, "tags")) {
            return NGX_HTTP_IOT_R_COLLECTION_TAG;
        }

        if (ngx_http_iot_is(2, "devices")) {
            return NGX_HTTP_IOT_R_DEVICE;
        }

        return NGX_HTTP_IOT_R_NONE;

    case 5:
        if (!ngx_http_iot_is(2, "devices")) {
            return NGX_HTTP_IOT_R_NONE;
        }

        if (ngx_http_iot_is(4, "tags")) {
            return NGX_HTTP_IOT_R_DEVICE_TAGS;
        }

        if (ngx_http_iot_is(4, "data")) {
            return NGX_HTTP_IOT_R_DEVICE_DATA;
        }

        if (ngx_http_iot_is(4, "from")) {
            return NGX_HTTP_IOT_R_DEVICE_FROM;
        }

        if (ngx_http_iot_is(4, "to")) {
            return NGX_HTTP_IOT_R_DEVICE_TO;
        }

        return NGX_HTTP_IOT_R_NONE;

    case 6:
        if (ngx_http_iot_is(2, "devices") && ngx_http_iot_is(4, "tags")) {
            return NGX_HTTP_IOT_R_DEVICE_TAG;
        }

        return NGX_HTTP_IOT_R_NONE;
    }

#undef ngx_http_iot_is

    return NGX_HTTP_IOT_R_NONE;
}


/*
 * NGX_OK: allowed; NGX_DECLINED: refused, the reason noted.  Paths are
 * checked in their canonical form, one
 * slash between segments, so "//collections/x/" is "/collections/x".
 */

static ngx_int_t
ngx_http_iot_forbidden(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_http_iot_route_e route)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    if (ctx->who.admin) {
        return NGX_OK;
    }

    switch (route) {

    case NGX_HTTP_IOT_R_ROOT:
    case NGX_HTTP_IOT_R_SYSTEM:
    case NGX_HTTP_IOT_R_TOKENS:
    case NGX_HTTP_IOT_R_TOKEN:
        /* tokens are checked against the token they name */
        return NGX_OK;

    case NGX_HTTP_IOT_R_COLLECTIONS:
        if (r->method & NGX_HTTP_IOT_M_GET) {
            /* the list shows only what the token reaches */
            return NGX_OK;
        }

        break;

    default:
        break;
    }

    len = 0;

    for (i = 0; i < ctx->nseg; i++) {
        len += 1 + ctx->seg[i].len;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->path.data = p;
    ctx->path.len = len;

    for (i = 0; i < ctx->nseg; i++) {
        *p++ = '/';
        p = ngx_cpymem(p, ctx->seg[i].data, ctx->seg[i].len);
    }

    if (!ngx_iot_resource_covers(&ctx->who.resource, ctx->path.data,
                                 ctx->path.len))
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_FORBIDDEN,
                                    "the API token does not reach this "
                                    "resource");
    }

    if (!(r->method & NGX_HTTP_IOT_M_GET) && !ctx->who.write) {
        return ngx_http_iot_invalid(r, NGX_HTTP_FORBIDDEN,
                                    "the API token is read-only");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_dispatch(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_http_iot_route_e  route;

    route = ngx_http_iot_route(ctx);

    switch (route) {

    case NGX_HTTP_IOT_R_ROOT:
        return ngx_http_iot_root(r);

    case NGX_HTTP_IOT_R_SYSTEM:
        return ngx_http_iot_system(r);

    case NGX_HTTP_IOT_R_COLLECTIONS:
        return ngx_http_iot_collections(r, ctx);

    case NGX_HTTP_IOT_R_COLLECTION:
        return ngx_http_iot_collection(r, ctx);

    case NGX_HTTP_IOT_R_DEVICES:
        return ngx_http_iot_devices(r, ctx);

    case NGX_HTTP_IOT_R_DEVICE:
        return ngx_http_iot_device(r, ctx);

    case NGX_HTTP_IOT_R_COLLECTION_TAGS:
    case NGX_HTTP_IOT_R_COLLECTION_TAG:
    case NGX_HTTP_IOT_R_DEVICE_TAGS:
    case NGX_HTTP_IOT_R_DEVICE_TAG:
        return ngx_http_iot_tags(r, ctx, route);

    case NGX_HTTP_IOT_R_TOKENS:
        return ngx_http_iot_tokens(r, ctx);

    case NGX_HTTP_IOT_R_TOKEN:
        return ngx_http_iot_token(r, ctx);

    case NGX_HTTP_IOT_R_FROM:
    case NGX_HTTP_IOT_R_DEVICE_FROM:
        return ngx_http_iot_stream(r, ctx, route == NGX_HTTP_IOT_R_DEVICE_FROM);

    case NGX_HTTP_IOT_R_DATA:
    case NGX_HTTP_IOT_R_DEVICE_DATA:
        return ngx_http_iot_data(r, ctx, route == NGX_HTTP_IOT_R_DEVICE_DATA);

    case NGX_HTTP_IOT_R_TO:
    case NGX_HTTP_IOT_R_DEVICE_TO:
        return ngx_http_iot_downlink(r, ctx,
                                     route == NGX_HTTP_IOT_R_DEVICE_TO);

    default:
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "no such resource");
    }
}


/* errors */

ngx_buf_t *
ngx_http_iot_collections_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    size_t      len, size;
    ngx_buf_t  *b;

    len = ngx_strlen(message);

    size = sizeof("{\"status\":,\"message\":\"\"}") + NGX_INT_T_LEN
           + ngx_iot_json_escape_len((u_char *) message, len);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "{\"status\":%ui,\"message\":\"",
                          status);
    b->last = ngx_iot_json_escape(b->last, (u_char *) message, len);
    b->last = ngx_cpymem(b->last, "\"}", 2);

    return b;
}


static ngx_int_t
ngx_http_iot_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_buf_t  *b;

    b = ngx_http_iot_collections_error(r, status, message);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_send(r, status, b);
}


/* a validator notes what is wrong; the request is answered with it once */

static ngx_int_t
ngx_http_iot_invalid(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    ctx->status = status;
    ctx->message = message;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_iot_reject(ngx_http_request_t *r)
{
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    return ngx_http_iot_error(r, ctx->status, ctx->message);
}


static ngx_int_t
ngx_http_iot_rc_error(ngx_http_request_t *r, ngx_iot_rc_e rc,
    const char *what)
{
    switch (rc) {

    case NGX_IOT_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, what);

    case NGX_IOT_COLLECTION_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "collection not found");

    case NGX_IOT_CONFLICT_IMSI:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "imsi: another device has this IMSI");

    case NGX_IOT_CONFLICT_IMEI:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "imei: another device has this IMEI");

    case NGX_IOT_NOT_EMPTY:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "the collection still has devices: "
                                  "delete or move them first");

    case NGX_IOT_TOO_MANY_TAGS:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "tags: at most 100 tags and 8192 bytes "
                                  "of JSON");

    case NGX_IOT_RETIRED:
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "nginx is reloading: try again");

    case NGX_IOT_ZONE_FULL:
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "the registry is full: nothing was "
                                  "changed");

    default:
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "the store cannot be written: nothing "
                                  "was changed");
    }
}


static ngx_int_t
ngx_http_iot_path_id(ngx_str_t *seg, uint64_t *id)
{
    return ngx_iot_id_decode(seg->data, seg->len, id);
}


/* request fields: null counts as absent */

static json_t *
ngx_http_iot_field(json_t *body, const char *name)
{
    json_t  *v;

    v = json_object_get(body, name);

    return (v == NULL || json_is_null(v)) ? NULL : v;
}


static ngx_int_t
ngx_http_iot_ident_field(json_t *body, const char *name, uint64_t *key)
{
    json_t      *v;
    const char  *s;

    *key = 0;

    v = ngx_http_iot_field(body, name);
    if (v == NULL) {
        return NGX_DECLINED;
    }

    if (!json_is_string(v)) {
        return NGX_ERROR;
    }

    s = json_string_value(v);

    return ngx_iot_ident_decode((u_char *) s, json_string_length(v), key);
}


static ngx_int_t
ngx_http_iot_tags_field(ngx_http_request_t *r, json_t *body, json_t **tags)
{
    const char  *err;

    *tags = ngx_http_iot_field(body, "tags");

    if (*tags == NULL) {
        return NGX_OK;
    }

    if (ngx_iot_tags_check(*tags, &err) != NGX_OK) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST, err);
    }

    return NGX_OK;
}


/* / and /system */

static ngx_int_t
ngx_http_iot_root(ngx_http_request_t *r)
{
    ngx_buf_t  *b;

    static u_char  links[] =
        "{\"collections\":\"/collections\",\"tokens\":\"/tokens\","
        "\"system\":\"/system\"}";

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = links;
    b->last = links + sizeof(links) - 1;
    b->memory = 1;

    return ngx_http_iot_send(r, NGX_HTTP_OK, b);
}


static ngx_int_t
ngx_http_iot_system(ngx_http_request_t *r)
{
    ngx_buf_t  *b;

    static u_char  system[] =
        "{\"version\":\"" NGX_IOT_VERSION "\","
        "\"buildDate\":\"" NGX_IOT_BUILD_DATE "\","
        "\"releaseName\":\"nginx-iot\","
        "\"defaultFieldMask\":{\"imsi\":false,\"imei\":false,"
        "\"msisdn\":false,\"location\":false},"
        "\"forcedFieldMask\":{\"imsi\":false,\"imei\":false,"
        "\"msisdn\":false,\"location\":false}}";

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = system;
    b->last = system + sizeof(system) - 1;
    b->memory = 1;

    return ngx_http_iot_send(r, NGX_HTTP_OK, b);
}


/* collections */



static u_char *
ngx_http_iot_bool_write(u_char *p, ngx_uint_t v)
{
    return v ? ngx_cpymem(p, "true", 4) : ngx_cpymem(p, "false", 5);
}


static u_char *
ngx_http_iot_collection_write(u_char *p, ngx_iot_collection_t *c)
{
    p = ngx_cpymem(p, "{\"collectionId\":\"",
                   sizeof("{\"collectionId\":\"") - 1);
    p = ngx_iot_id_encode(p, c->id.key);
    p = ngx_cpymem(p, "\",\"teamId\":\"", sizeof("\",\"teamId\":\"") - 1);
    p = ngx_iot_id_encode(p, c->team_id);
    p = ngx_cpymem(p, "\",\"fieldMask\":{\"imsi\":",
                   sizeof("\",\"fieldMask\":{\"imsi\":") - 1);
    p = ngx_http_iot_bool_write(p, c->field_mask & NGX_IOT_MASK_IMSI);
    p = ngx_cpymem(p, ",\"imei\":", sizeof(",\"imei\":") - 1);
    p = ngx_http_iot_bool_write(p, c->field_mask & NGX_IOT_MASK_IMEI);
    p = ngx_cpymem(p, ",\"msisdn\":", sizeof(",\"msisdn\":") - 1);
    p = ngx_http_iot_bool_write(p, c->field_mask & NGX_IOT_MASK_MSISDN);
    p = ngx_cpymem(p, ",\"location\":", sizeof(",\"location\":") - 1);
    p = ngx_http_iot_bool_write(p, c->field_mask & NGX_IOT_MASK_LOCATION);
    p = ngx_cpymem(p, "},\"tags\":", sizeof("},\"tags\":") - 1);
    p = ngx_iot_tags_write(p, &c->tags);
    *p++ = '}';

    return p;
}


static ngx_int_t
ngx_http_iot_send_collection(ngx_http_request_t *r, ngx_uint_t status,
    ngx_iot_collection_t *c)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, NGX_HTTP_IOT_ENTITY_LEN + c->tags.len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_iot_collection_write(b->last, c);

    return ngx_http_iot_send(r, status, b);
}


static ngx_int_t
ngx_http_iot_collection_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    sqlite3_stmt *st, ngx_buf_t *b)
{
    u_char                path[sizeof("/collections/") + NGX_IOT_ID_LEN];
    u_char               *p;
    ngx_http_iot_ctx_t   *ctx;
    ngx_iot_collection_t  c;

    ngx_iot_store_row_collection(st, &c);

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    p = ngx_cpymem(path, "/collections/", sizeof("/collections/") - 1);
    p = ngx_iot_id_encode(p, c.id.key);

    if (!ngx_iot_resource_covers(&ctx->who.resource, path, p - path)) {
        return NGX_DECLINED;
    }

    if (b == NULL) {
        return NGX_OK;
    }

    if ((size_t) (b->end - b->last) < NGX_HTTP_IOT_ENTITY_LEN + c.tags.len) {
        return NGX_AGAIN;
    }

    b->last = ngx_http_iot_collection_write(b->last, &c);

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_mask_field(ngx_http_request_t *r, json_t *body,
    ngx_iot_collection_change_t *ch)
{
    json_t      *mask, *v;
    ngx_uint_t   i;

    static struct {
        const char  *name;
        uint32_t     bit;
    } fields[] = {
        { "imsi", NGX_IOT_MASK_IMSI },
        { "imei", NGX_IOT_MASK_IMEI },
        { "msisdn", NGX_IOT_MASK_MSISDN },
        { "location", NGX_IOT_MASK_LOCATION }
    };

    mask = ngx_http_iot_field(body, "fieldMask");
    if (mask == NULL) {
        return NGX_OK;
    }

    if (!json_is_object(mask)) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "fieldMask must be an object of booleans");
    }

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        v = ngx_http_iot_field(mask, fields[i].name);

        if (v == NULL) {
            continue;
        }

        if (!json_is_boolean(v)) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "fieldMask values must be booleans");
        }

        ch->mask_set |= fields[i].bit;

        if (json_is_true(v)) {
            ch->mask_value |= fields[i].bit;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_collection_fields(ngx_http_request_t *r, json_t *body,
    ngx_iot_collection_change_t *ch)
{
    json_t     *v;
    uint64_t    team;
    ngx_int_t   rc;

    ngx_memzero(ch, sizeof(ngx_iot_collection_change_t));

    rc = ngx_http_iot_tags_field(r, body, &ch->tags);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_iot_mask_field(r, body, ch);
    if (rc != NGX_OK) {
        return rc;
    }

    v = ngx_http_iot_field(body, "teamId");

    if (v) {
        if (!json_is_string(v)
            || ngx_iot_id_decode((u_char *) json_string_value(v),
                                 json_string_length(v), &team)
               != NGX_OK
            || team != ngx_iot_team_id((ngx_cycle_t *) ngx_cycle))
        {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "teamId: no such team");
        }

        ch->team_id = team;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_collections(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_iot_rc_e                 irc;
    ngx_iot_collection_t         c;
    ngx_iot_collection_change_t  ch;

    if (r->method & NGX_HTTP_IOT_M_GET) {
        ctx->list.sql = NGX_IOT_SQL_COLLECTION_LIST;
        ctx->list.row = ngx_http_iot_collection_row;
        ngx_str_set(&ctx->list.head, "{\"collections\":[");

        rc = ngx_http_iot_list_params(r, &ctx->list, 0);
        if (rc != NGX_OK) {
            return ngx_http_iot_reject(r);
        }

        return ngx_http_iot_list_start(r, &ctx->list);
    }

    rc = ngx_http_iot_collection_fields(r, ctx->body, &ch);
    if (rc != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    irc = ngx_iot_collection_create((ngx_cycle_t *) ngx_cycle, &ch, r->pool,
                                    &c, r->connection->log);
    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_rc_error(r, irc, "collection not found");
    }

    return ngx_http_iot_send_collection(r, NGX_HTTP_CREATED, &c);
}


static ngx_int_t
ngx_http_iot_collection(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    uint64_t                     id;
    ngx_int_t                    rc;
    ngx_iot_rc_e                 irc;
    ngx_cycle_t                 *cycle;
    ngx_iot_collection_t         c;
    ngx_iot_collection_change_t  ch;

    cycle = (ngx_cycle_t *) ngx_cycle;

    if (ngx_http_iot_path_id(&ctx->seg[1], &id) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "collection not found");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        irc = ngx_iot_collection_get(cycle, id, r->pool, &c);

    } else if (r->method == NGX_HTTP_PATCH) {
        rc = ngx_http_iot_collection_fields(r, ctx->body, &ch);
        if (rc != NGX_OK) {
            return ngx_http_iot_reject(r);
        }

        irc = ngx_iot_collection_update(cycle, id, &ch, r->pool, &c,
                                        r->connection->log);

    } else {
        irc = ngx_iot_collection_delete(cycle, id, r->connection->log);

        if (irc == NGX_IOT_OK) {
            return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
        }
    }

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_rc_error(r, irc, "collection not found");
    }

    return ngx_http_iot_send_collection(r, NGX_HTTP_OK, &c);
}


/* devices */



static ngx_int_t
ngx_http_iot_send_device(ngx_http_request_t *r, ngx_uint_t status,
    ngx_iot_device_t *d)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, ngx_iot_device_len(d));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_iot_device_write(b->last, d);

    return ngx_http_iot_send(r, status, b);
}


static ngx_int_t
ngx_http_iot_device_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    sqlite3_stmt *st, ngx_buf_t *b)
{
    ngx_iot_device_t  d;

    if (b == NULL) {
        return NGX_OK;
    }

    ngx_iot_store_row_device(st, &d);

    if ((size_t) (b->end - b->last) < ngx_iot_device_len(&d)) {
        return NGX_AGAIN;
    }

    b->last = ngx_iot_device_write(b->last, &d);

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_device_fields(ngx_http_request_t *r, json_t *body,
    ngx_iot_device_change_t *ch, ngx_uint_t create)
{
    ngx_int_t  rc;

    ngx_memzero(ch, sizeof(ngx_iot_device_change_t));

    rc = ngx_http_iot_ident_field(body, "imsi", &ch->imsi);

    if (rc == NGX_ERROR) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "imsi must be a string of 1 to 16 digits");
    }

    if (rc == NGX_DECLINED && create) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "imsi is required");
    }

    rc = ngx_http_iot_ident_field(body, "imei", &ch->imei);

    if (rc == NGX_ERROR) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "imei must be a string of 1 to 16 digits");
    }

    if (rc == NGX_DECLINED && create) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "imei is required");
    }

    return ngx_http_iot_tags_field(r, body, &ch->tags);
}


static ngx_int_t
ngx_http_iot_devices(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                   *p;
    uint64_t                  cid;
    ngx_int_t                 rc;
    ngx_iot_rc_e              irc;
    ngx_iot_device_t          d;
    ngx_iot_collection_t      c;
    ngx_iot_device_change_t   ch;

    if (ngx_http_iot_path_id(&ctx->seg[1], &cid) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "collection not found");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        irc = ngx_iot_collection_get((ngx_cycle_t *) ngx_cycle, cid, r->pool,
                                     &c);
        if (irc != NGX_IOT_OK) {
            return ngx_http_iot_rc_error(r, irc, "collection not found");
        }

        rc = ngx_http_iot_list_params(r, &ctx->list, 0);
        if (rc != NGX_OK) {
            return ngx_http_iot_reject(r);
        }

        p = ngx_pnalloc(r->pool, sizeof("{\"collectionId\":\"\",\"devices\":[")
                                 + NGX_IOT_ID_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->list.head.data = p;

        p = ngx_cpymem(p, "{\"collectionId\":\"",
                       sizeof("{\"collectionId\":\"") - 1);
        p = ngx_iot_id_encode(p, cid);
        p = ngx_cpymem(p, "\",\"devices\":[", sizeof("\",\"devices\":[") - 1);

        ctx->list.head.len = p - ctx->list.head.data;
        ctx->list.sql = NGX_IOT_SQL_DEVICE_LIST;
        ctx->list.row = ngx_http_iot_device_row;
        ctx->list.scope = (int64_t) cid;
        ctx->list.has_scope = 1;

        return ngx_http_iot_list_start(r, &ctx->list);
    }

    rc = ngx_http_iot_device_fields(r, ctx->body, &ch, 1);
    if (rc != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    ch.collection_id = cid;

    irc = ngx_iot_device_create((ngx_cycle_t *) ngx_cycle, &ch, r->pool, &d,
                                r->connection->log);
    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_rc_error(r, irc, "collection not found");
    }

    return ngx_http_iot_send_device(r, NGX_HTTP_CREATED, &d);
}


static ngx_int_t
ngx_http_iot_device(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                   *p;
    u_char                    path[sizeof("/collections/") + NGX_IOT_ID_LEN];
    json_t                   *v;
    uint64_t                  cid, did, to;
    ngx_int_t                 rc;
    ngx_iot_rc_e              irc;
    ngx_cycle_t              *cycle;
    ngx_iot_device_t          d;
    ngx_iot_device_change_t   ch;

    cycle = (ngx_cycle_t *) ngx_cycle;

    if (ngx_http_iot_path_id(&ctx->seg[1], &cid) != NGX_OK
        || ngx_http_iot_path_id(&ctx->seg[3], &did) != NGX_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "device not found");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        irc = ngx_iot_device_get(cycle, did, cid, r->pool, &d);

    } else if (r->method == NGX_HTTP_PATCH) {
        rc = ngx_http_iot_device_fields(r, ctx->body, &ch, 0);
        if (rc != NGX_OK) {
            return ngx_http_iot_reject(r);
        }

        v = ngx_http_iot_field(ctx->body, "collectionId");

        if (v) {
            if (!json_is_string(v)) {
                return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                          "collectionId must be a string");
            }

            if (ngx_iot_id_decode((u_char *) json_string_value(v),
                                  json_string_length(v), &to)
                != NGX_OK)
            {
                return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                          "collectionId: collection not "
                                          "found");
            }

            if (to != cid) {
                /* moving: the token must reach where the device goes */
                p = ngx_cpymem(path, "/collections/",
                               sizeof("/collections/") - 1);
                p = ngx_iot_id_encode(p, to);

                if (!ngx_iot_resource_covers(&ctx->who.resource, path,
                                             p - path))
                {
                    return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                              "the API token does not reach "
                                              "the target collection");
                }

                ch.collection_id = to;
            }
        }

        irc = ngx_iot_device_update(cycle, did, cid, &ch, r->pool, &d,
                                    r->connection->log);

    } else {
        irc = ngx_iot_device_delete(cycle, did, cid, r->connection->log);

        if (irc == NGX_IOT_OK) {
            return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
        }
    }

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_rc_error(r, irc, "device not found");
    }

    return ngx_http_iot_send_device(r, NGX_HTTP_OK, &d);
}


/* tags of collections and devices */

static ngx_int_t
ngx_http_iot_send_tags(ngx_http_request_t *r, ngx_iot_text_t *tags)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, tags->len + 2);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_iot_tags_write(b->last, tags);

    return ngx_http_iot_send(r, NGX_HTTP_OK, b);
}


static ngx_int_t
ngx_http_iot_send_value(ngx_http_request_t *r, ngx_str_t *value)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool,
                            sizeof("{\"value\":\"\"}")
                            + ngx_iot_json_escape_len(value->data,
                                                      value->len));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "{\"value\":\"", sizeof("{\"value\":\"") - 1);
    b->last = ngx_iot_json_escape(b->last, value->data, value->len);
    b->last = ngx_cpymem(b->last, "\"}", 2);

    return ngx_http_iot_send(r, NGX_HTTP_OK, b);
}


static ngx_int_t
ngx_http_iot_tags(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_http_iot_route_e route)
{
    u_char                       *key;
    json_t                       *patch, *v;
    uint64_t                      cid, did;
    ngx_str_t                     name, value;
    ngx_int_t                     rc;
    ngx_uint_t                    device, one;
    const char                   *err, *what;
    ngx_iot_rc_e                  irc;
    ngx_cycle_t                  *cycle;
    ngx_iot_text_t               *tags;
    ngx_iot_device_t              d;
    ngx_iot_collection_t          c;
    ngx_iot_device_change_t       dch;
    ngx_iot_collection_change_t   cch;

    cycle = (ngx_cycle_t *) ngx_cycle;

    device = (route == NGX_HTTP_IOT_R_DEVICE_TAGS
              || route == NGX_HTTP_IOT_R_DEVICE_TAG);
    one = (route == NGX_HTTP_IOT_R_COLLECTION_TAG
           || route == NGX_HTTP_IOT_R_DEVICE_TAG);

    what = device ? "device not found" : "collection not found";

    did = 0;

    if (ngx_http_iot_path_id(&ctx->seg[1], &cid) != NGX_OK
        || (device && ngx_http_iot_path_id(&ctx->seg[3], &did) != NGX_OK))
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, what);
    }

    if (one) {
        name = ctx->seg[device ? 5 : 3];

        if (name.len > NGX_IOT_TAG_NAME_MAX
            || ngx_strlchr(name.data, name.data + name.len, '\0'))
        {
            if (r->method == NGX_HTTP_PATCH) {
                return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                          "tag names must be 1 to 64 "
                                          "bytes long");
            }

            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                      "tag not found");
        }
    }

    /* the current tags, to read or to check that a tag exists */

    irc = device ? ngx_iot_device_get(cycle, did, cid, r->pool, &d)
                 : ngx_iot_collection_get(cycle, cid, r->pool, &c);

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_rc_error(r, irc, what);
    }

    tags = device ? &d.tags : &c.tags;

    if (r->method & NGX_HTTP_IOT_M_GET) {
        if (!one) {
            return ngx_http_iot_send_tags(r, tags);
        }

        rc = ngx_iot_tags_get(tags, &name, r->pool, &value);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                      "tag not found");
        }

        return ngx_http_iot_send_value(r, &value);
    }

    /* PATCH and DELETE become a patch of the tags */

    if (!one) {
        if (ngx_iot_tags_check(ctx->body, &err) != NGX_OK) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST, err);
        }

        patch = json_incref(ctx->body);

    } else {
        if (r->method == NGX_HTTP_DELETE) {
            rc = ngx_iot_tags_get(tags, &name, r->pool, &value);

            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_DECLINED) {
                return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                          "tag not found");
            }

            v = json_string("");

        } else {
            v = json_object_get(ctx->body, "value");

            if (v == NULL || !json_is_string(v)) {
                return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                          "value must be a string");
            }

            if (json_string_length(v) > NGX_IOT_TAG_VALUE_MAX) {
                return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                          "tag values must be at most "
                                          "1024 bytes long");
            }

            if (name.len == 0) {
                return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                          "tag names must be 1 to 64 "
                                          "bytes long");
            }

            json_incref(v);
        }

        key = ngx_pnalloc(r->pool, name.len + 1);
        if (key == NULL || v == NULL) {
            json_decref(v);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_cpystrn(key, name.data, name.len + 1);

        patch = json_object();

        if (patch == NULL || json_object_set_new(patch, (char *) key, v)) {
            json_decref(patch);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (device) {
        ngx_memzero(&dch, sizeof(ngx_iot_device_change_t));
        dch.tags = patch;
        irc = ngx_iot_device_update(cycle, did, cid, &dch, r->pool, &d,
                                    r->connection->log);

    } else {
        ngx_memzero(&cch, sizeof(ngx_iot_collection_change_t));
        cch.tags = patch;
        irc = ngx_iot_collection_update(cycle, cid, &cch, r->pool, &c,
                                        r->connection->log);
    }

    json_decref(patch);

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_rc_error(r, irc, what);
    }

    if (r->method == NGX_HTTP_DELETE) {
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    if (!one) {
        return ngx_http_iot_send_tags(r, tags);
    }

    rc = ngx_iot_tags_get(tags, &name, r->pool, &value);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_null(&value);
    }

    return ngx_http_iot_send_value(r, &value);
}


/* tokens */

static u_char *
ngx_http_iot_token_write(u_char *p, ngx_iot_token_t *t, u_char *secret)
{
    p = ngx_cpymem(p, "{\"token\":\"", sizeof("{\"token\":\"") - 1);

    if (secret) {
        p = ngx_cpymem(p, secret, NGX_IOT_TOKEN_LEN);

    } else {
        p = ngx_cpymem(p, t->hint, NGX_IOT_TOKEN_HINT_LEN);
    }

    p = ngx_cpymem(p, "\",\"resource\":\"", sizeof("\",\"resource\":\"") - 1);
    p = ngx_iot_json_escape(p, t->resource.data, t->resource.len);
    p = ngx_cpymem(p, "\",\"write\":", sizeof("\",\"write\":") - 1);
    p = ngx_http_iot_bool_write(p, t->write);
    p = ngx_cpymem(p, ",\"tags\":", sizeof(",\"tags\":") - 1);
    p = ngx_iot_tags_write(p, &t->tags);
    *p++ = '}';

    return p;
}


static size_t
ngx_http_iot_token_len(ngx_iot_token_t *t)
{
    return NGX_HTTP_IOT_ENTITY_LEN + t->tags.len
           + ngx_iot_json_escape_len(t->resource.data, t->resource.len);
}


static ngx_int_t
ngx_http_iot_send_token(ngx_http_request_t *r, ngx_uint_t status,
    ngx_iot_token_t *t, u_char *secret)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, ngx_http_iot_token_len(t));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_iot_token_write(b->last, t, secret);

    return ngx_http_iot_send(r, status, b);
}


static ngx_int_t
ngx_http_iot_token_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    sqlite3_stmt *st, ngx_buf_t *b)
{
    ngx_iot_token_t      t;
    ngx_http_iot_ctx_t  *ctx;

    ngx_iot_store_row_token(st, &t);

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    if (!ngx_iot_resource_covers(&ctx->who.resource, t.resource.data,
                                 t.resource.len))
    {
        return NGX_DECLINED;
    }

    if (b == NULL) {
        return NGX_OK;
    }

    if ((size_t) (b->end - b->last) < ngx_http_iot_token_len(&t)) {
        return NGX_AGAIN;
    }

    b->last = ngx_http_iot_token_write(b->last, &t, NULL);

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_token_fields(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_token_change_t *ch, ngx_uint_t create)
{
    json_t     *v;
    ngx_int_t   rc;

    ngx_memzero(ch, sizeof(ngx_iot_token_change_t));
    ch->write = -1;

    v = ngx_http_iot_field(ctx->body, "resource");

    if (v == NULL) {
        if (create) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "resource is required");
        }

    } else {
        if (!json_is_string(v)) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "resource must be a path starting "
                                        "with /");
        }

        ch->resource.data = (u_char *) json_string_value(v);
        ch->resource.len = json_string_length(v);

        if (ngx_iot_resource_check(&ch->resource) != NGX_OK) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "resource must be a path starting "
                                        "with /, at most 512 printable "
                                        "characters");
        }

        if (!ngx_iot_resource_covers(&ctx->who.resource, ch->resource.data,
                                     ch->resource.len))
        {
            return ngx_http_iot_invalid(r, NGX_HTTP_FORBIDDEN,
                                        "a token cannot reach further than "
                                        "the token that makes it");
        }
    }

    v = ngx_http_iot_field(ctx->body, "write");

    if (v) {
        if (!json_is_boolean(v)) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "write must be a boolean");
        }

        ch->write = json_is_true(v) ? 1 : 0;

    } else if (create) {
        ch->write = 0;
    }

    rc = ngx_http_iot_tags_field(r, ctx->body, &ch->tags);

    return rc;
}


static ngx_int_t
ngx_http_iot_tokens(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                  secret[NGX_IOT_TOKEN_LEN];
    ngx_int_t               rc;
    ngx_uint_t              tries;
    ngx_iot_rc_e            irc;
    ngx_iot_token_t         t;
    ngx_iot_token_change_t  ch;

    if (r->method & NGX_HTTP_IOT_M_GET) {
        ctx->list.sql = NGX_IOT_SQL_TOKEN_LIST;
        ctx->list.row = ngx_http_iot_token_row;
        ctx->list.text_key = 1;
        ngx_str_set(&ctx->list.head, "{\"tokens\":[");

        rc = ngx_http_iot_list_params(r, &ctx->list, 1);
        if (rc != NGX_OK) {
            return ngx_http_iot_reject(r);
        }

        return ngx_http_iot_list_start(r, &ctx->list);
    }

    if (!ctx->who.write) {
        return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                  "the API token is read-only");
    }

    rc = ngx_http_iot_token_fields(r, ctx, &ch, 1);
    if (rc != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    /* a new token's public prefix may, very rarely, be taken already */

    for (tries = 0; tries < 3; tries++) {
        irc = ngx_iot_token_create((ngx_cycle_t *) ngx_cycle, &ch, r->pool,
                                   &t, secret, r->connection->log);
        if (irc != NGX_IOT_STORE_ERROR) {
            break;
        }
    }

    if (irc != NGX_IOT_OK) {
        ngx_explicit_memzero(secret, sizeof(secret));
        return ngx_http_iot_rc_error(r, irc, "token not found");
    }

    rc = ngx_http_iot_send_token(r, NGX_HTTP_CREATED, &t, secret);

    ngx_explicit_memzero(secret, sizeof(secret));

    return rc;
}


static ngx_int_t
ngx_http_iot_token(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                  hash[NGX_IOT_HASH_LEN];
    ngx_int_t               rc;
    ngx_iot_rc_e            irc;
    ngx_cycle_t            *cycle;
    ngx_iot_token_t         t;
    ngx_iot_token_change_t  ch;

    cycle = (ngx_cycle_t *) ngx_cycle;

    if (!(r->method & NGX_HTTP_IOT_M_GET) && !ctx->who.write) {
        return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                  "the API token is read-only");
    }

    rc = ngx_iot_token_find_hash(cycle, &ctx->seg[1], hash,
                                 r->connection->log);

    if (rc == NGX_ERROR) {
        return ngx_http_iot_rc_error(r, NGX_IOT_STORE_ERROR, NULL);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "token not found");
    }

    irc = ngx_iot_token_get(cycle, hash, r->pool, &t);

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_rc_error(r, irc, "token not found");
    }

    /* a token outside the caller's reach is not there for it */

    if (!ngx_iot_resource_covers(&ctx->who.resource, t.resource.data,
                                 t.resource.len))
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "token not found");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        return ngx_http_iot_send_token(r, NGX_HTTP_OK, &t, NULL);
    }

    if (r->method == NGX_HTTP_DELETE) {
        irc = ngx_iot_token_delete(cycle, hash, r->connection->log);

        if (irc != NGX_IOT_OK) {
            return ngx_http_iot_rc_error(r, irc, "token not found");
        }

        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    rc = ngx_http_iot_token_fields(r, ctx, &ch, 0);
    if (rc != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    irc = ngx_iot_token_update(cycle, hash, &ch, r->pool, &t,
                               r->connection->log);

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_rc_error(r, irc, "token not found");
    }

    return ngx_http_iot_send_token(r, NGX_HTTP_OK, &t, NULL);
}


/*
 * The collection of a /from, /data or /to path, and its device when the
 * path names one: NGX_DECLINED, the reason noted, when there is none.
 */

static ngx_int_t
ngx_http_iot_target(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_uint_t device, uint64_t *cid, uint64_t *did, ngx_iot_device_t *d)
{
    ngx_cycle_t  *cycle;

    cycle = (ngx_cycle_t *) ngx_cycle;
    *did = 0;

    if (ngx_http_iot_path_id(&ctx->seg[1], cid) != NGX_OK) {
        return ngx_http_iot_invalid(r, NGX_HTTP_NOT_FOUND,
                                    "collection not found");
    }

    if (!device) {
        return ngx_iot_collection_exists(cycle, *cid)
               ? NGX_OK
               : ngx_http_iot_invalid(r, NGX_HTTP_NOT_FOUND,
                                      "collection not found");
    }

    if (ngx_http_iot_path_id(&ctx->seg[3], did) != NGX_OK
        || ngx_iot_device_get(cycle, *did, *cid, r->pool, d) != NGX_IOT_OK)
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_NOT_FOUND,
                                    "device not found");
    }

    return NGX_OK;
}


/* /from: a WebSocket stream of the collection's or the device's data */

static ngx_int_t
ngx_http_iot_stream(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_uint_t device)
{
    uint64_t          cid, did;
    ngx_iot_device_t  d;

    if (ngx_http_iot_target(r, ctx, device, &cid, &did, &d) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    return ngx_http_iot_from(r, cid, did);
}


/* /data: the stored messages, newest first */

static ngx_int_t
ngx_http_iot_message_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    sqlite3_stmt *st, ngx_buf_t *b)
{
    ngx_iot_message_t  m;
    ngx_iot_device_t   d;

    ngx_iot_history_row(st, &m);

    /* the device as it is now; the messages of a deleted one are not shown */

    if (ngx_iot_device_get((ngx_cycle_t *) ngx_cycle, m.device_id, 0,
                           list->tmp, &d)
        != NGX_IOT_OK)
    {
        return NGX_DECLINED;
    }

    if (b == NULL) {
        return NGX_OK;
    }

    if ((size_t) (b->end - b->last) < ngx_iot_message_len(&m, &d)) {
        return NGX_AGAIN;
    }

    b->last = ngx_iot_message_write(b->last, &m, &d);

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_time_arg(ngx_http_request_t *r, char *name, int64_t *value)
{
    off_t      n;
    ngx_str_t  v;

    *value = 0;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK
        || v.len == 0)
    {
        return NGX_OK;
    }

    n = ngx_atoof(v.data, v.len);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    *value = (int64_t) n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_data(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_uint_t device)
{
    int64_t            until, limit;
    uint64_t           cid, did;
    ngx_iot_device_t   d;

    if (ngx_http_iot_target(r, ctx, device, &cid, &did, &d) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (ngx_http_iot_time_arg(r, "since", &ctx->list.since) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "since must be a time in milliseconds "
                                  "(0: from the first message)");
    }

    if (ngx_http_iot_time_arg(r, "until", &until) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "until must be a time in milliseconds "
                                  "(0: up to the last message)");
    }

    limit = 256;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &ctx->list.head) == NGX_OK) {
        limit = ngx_atoof(ctx->list.head.data, ctx->list.head.len);

        if (limit == NGX_ERROR) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "limit must be a number (0: all)");
        }
    }

    ctx->list.store = ngx_iot_history_reader((ngx_cycle_t *) ngx_cycle,
                                             r->connection->log);
    if (ctx->list.store == NULL) {
        return ngx_http_iot_rc_error(r, NGX_IOT_STORE_ERROR, NULL);
    }

    ctx->list.tmp = ngx_create_pool(4096, r->connection->log);
    if (ctx->list.tmp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_iot_list_cleanup(r, &ctx->list) != NGX_OK) {
        ngx_destroy_pool(ctx->list.tmp);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->list.sql = device ? NGX_IOT_SQL_HISTORY_DEVICE_LIST
                           : NGX_IOT_SQL_HISTORY_LIST;
    ctx->list.scope = (int64_t) (device ? did : cid);
    ctx->list.has_scope = 1;
    ctx->list.by_time = 1;
    ctx->list.limit = (ngx_uint_t) limit;
    ctx->list.scan_time = until ? until + 1 : INT64_MAX;
    ctx->list.row = ngx_http_iot_message_row;
    ngx_str_set(&ctx->list.head, "{\"messages\":[");

    return ngx_http_iot_list_start(r, &ctx->list);
}


/* /to: a datagram to the device, or to every device of the collection */

static ngx_int_t
ngx_http_iot_downlink_fields(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_uint_t *port, ngx_str_t *payload)
{
    json_t      *v;
    ngx_str_t    b64;
    json_int_t   n;
    const char  *transport;

    v = ngx_http_iot_field(ctx->body, "transport");

    if (v) {
        if (!json_is_string(v)) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "transport must be udp, coap-push "
                                        "or coap-pull");
        }

        transport = json_string_value(v);

        if (ngx_strcmp(transport, "coap-push") == 0
            || ngx_strcmp(transport, "coap-pull") == 0)
        {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "transport: coap-push and coap-pull "
                                        "need the CoAP link, which this "
                                        "server does not have yet");
        }

        if (*transport != '\0' && ngx_strcmp(transport, "udp") != 0) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "transport must be udp, coap-push "
                                        "or coap-pull");
        }
    }

    v = ngx_http_iot_field(ctx->body, "port");

    if (v == NULL || !json_is_integer(v)
        || (n = json_integer_value(v)) < 1 || n > 65535)
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "port must be a number from 1 to 65535");
    }

    *port = (ngx_uint_t) n;

    v = ngx_http_iot_field(ctx->body, "payload");

    if (v == NULL || !json_is_string(v) || json_string_length(v) == 0) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "payload must be base64 of 1 to 2048 "
                                    "bytes");
    }

    b64.data = (u_char *) json_string_value(v);
    b64.len = json_string_length(v);

    if (ngx_base64_decoded_length(b64.len) > NGX_IOT_PAYLOAD_MAX + 2) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "payload must be base64 of 1 to 2048 "
                                    "bytes");
    }

    payload->data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(b64.len));
    if (payload->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64(payload, &b64) != NGX_OK
        || payload->len == 0 || payload->len > NGX_IOT_PAYLOAD_MAX)
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "payload must be base64 of 1 to 2048 "
                                    "bytes");
    }

    return NGX_OK;
}


/* NGX_DECLINED: the device has no address; NGX_ERROR: not sent */

static ngx_int_t
ngx_http_iot_send_datagram(ngx_socket_t fd, ngx_iot_device_t *d,
    ngx_uint_t port, ngx_str_t *payload, ngx_log_t *log)
{
    ssize_t             n;
    struct sockaddr_in  sin;

    if (d->net_family != 4) {
        return NGX_DECLINED;
    }

    ngx_memzero(&sin, sizeof(struct sockaddr_in));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((in_port_t) port);
    ngx_memcpy(&sin.sin_addr, d->net_addr, 4);

    n = sendto(fd, payload->data, payload->len, 0,
               (struct sockaddr *) &sin, sizeof(struct sockaddr_in));

    if (n != (ssize_t) payload->len) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_socket_errno,
                      "iot downlink: sendto() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_downlink(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_uint_t device)
{
    int                rc;
    u_char             id[NGX_IOT_ID_LEN];
    int64_t            after;
    uint64_t           cid, did;
    ngx_int_t          sent_rc;
    ngx_str_t          payload;
    ngx_buf_t         *b;
    ngx_uint_t         port, lport, sent, failed, nerr;
    ngx_chain_t       *cl, *first, **last;
    ngx_socket_t       fd;
    sqlite3_stmt      *st;
    ngx_iot_store_t   *store;
    ngx_iot_device_t   d;

    if (ngx_http_iot_target(r, ctx, device, &cid, &did, &d) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    rc = ngx_http_iot_downlink_fields(r, ctx, &port, &payload);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    fd = ngx_iot_uplink_socket((ngx_cycle_t *) ngx_cycle, &lport);

    if (fd == (ngx_socket_t) -1) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "there is no iot_uplink UDP listener to "
                                  "send from");
    }

    if (device) {
        sent_rc = ngx_http_iot_send_datagram(fd, &d, port, &payload,
                                             r->connection->log);

        if (sent_rc == NGX_DECLINED) {
            return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                      "the device has no known address");
        }

        if (sent_rc != NGX_OK) {
            return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "the datagram could not be sent");
        }

        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    /* the whole collection, from the store, a batch at a time */

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);
    if (store == NULL) {
        return ngx_http_iot_rc_error(r, NGX_IOT_STORE_ERROR, NULL);
    }

    sent = 0;
    failed = 0;
    nerr = 0;
    after = 0;
    first = NULL;
    last = &first;

    for ( ;; ) {
        st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DEVICE_LIST);
        if (st == NULL) {
            return ngx_http_iot_rc_error(r, NGX_IOT_STORE_ERROR, NULL);
        }

        sqlite3_bind_int64(st, 1, (sqlite3_int64) cid);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_bind_int(st, 3, 256);

        rc = 0;

        while (sqlite3_step(st) == SQLITE_ROW) {
            ngx_iot_store_row_device(st, &d);
            after = (int64_t) d.id.key;
            rc++;

            sent_rc = ngx_http_iot_send_datagram(fd, &d, port, &payload,
                                                 r->connection->log);
            if (sent_rc == NGX_OK) {
                sent++;
                continue;
            }

            failed++;

            b = ngx_create_temp_buf(r->pool, 128);
            cl = ngx_alloc_chain_link(r->pool);
            if (b == NULL || cl == NULL) {
                sqlite3_reset(st);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (nerr++) {
                *b->last++ = ',';
            }

            b->last = ngx_cpymem(b->last, "{\"deviceId\":\"",
                                 sizeof("{\"deviceId\":\"") - 1);
            b->last = ngx_cpymem(b->last, id,
                                 ngx_iot_id_encode(id, d.id.key) - id);
            b->last = ngx_sprintf(b->last, "\",\"message\":\"%s\"}",
                                  sent_rc == NGX_DECLINED
                                  ? "the device has no known address"
                                  : "the datagram could not be sent");

            cl->buf = b;
            cl->next = NULL;
            *last = cl;
            last = &cl->next;
        }

        sqlite3_reset(st);

        if (rc < 256) {
            break;
        }
    }

    b = ngx_create_temp_buf(r->pool, 64);
    cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "]}", 2);
    cl->buf = b;
    cl->next = NULL;
    *last = cl;

    /* the counts go first, now that they are known */

    b = ngx_create_temp_buf(r->pool, 64);
    cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last,
                          "{\"sent\":%ui,\"failed\":%ui,\"errors\":[",
                          sent, failed);
    cl->buf = b;
    cl->next = first;
    first = cl;

    return ngx_http_iot_send_chain(r, NGX_HTTP_OK, first);
}


/* ?limit=N&cursor=X */

static ngx_int_t
ngx_http_iot_list_params(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    ngx_uint_t text_key)
{
    uint64_t   id;
    ngx_int_t  n;
    ngx_str_t  value;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &value) == NGX_OK) {
        n = ngx_atoi(value.data, value.len);

        if (n == NGX_ERROR || n > NGX_HTTP_IOT_LIST_MAX) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "limit must be a number from 0 to "
                                        "10000");
        }

        list->limit = n;
    }

    if (ngx_http_arg(r, (u_char *) "cursor", 6, &value) == NGX_OK
        && value.len)
    {
        if (text_key) {
            if (value.len != NGX_IOT_TOKEN_HINT_LEN) {
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                            "cursor is not valid");
            }

            ngx_memcpy(list->scan_key, value.data, value.len);
            list->scan_key_len = value.len;

        } else {
            if (ngx_iot_id_decode(value.data, value.len, &id) != NGX_OK) {
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                            "cursor is not valid");
            }

            list->scan_id = (int64_t) id;
        }
    }

    return NGX_OK;
}
