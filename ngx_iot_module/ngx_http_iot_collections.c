
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect: the device API of Telenor's NB-IoT platform
 * ("Horde").  Its table, its routes, its credentials (X-API-Token, or a
 * read-only api_token query argument on /from) and scopes (a token's
 * resource, a path prefix), its error format and its request fields.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_collections.h"
#include "ngx_iot_ident.h"


static ngx_http_iot_route_t *ngx_http_iot_collections_route(
    ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_collections_credentials(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_uint_t ngx_http_iot_collections_is(ngx_str_t *seg,
    const char *name);
static ngx_int_t ngx_http_iot_collections_allowed(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_collections_authorize(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_collections_root(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_collections_system(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_uint_t ngx_http_iot_collections_own_body(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_collections_stream_allowed(
    ngx_iot_principal_t *who, uint64_t cid, ngx_str_t *path,
    ngx_pool_t *pool);


ngx_http_iot_dialect_t  ngx_http_iot_collections_dialect = {
    ngx_string("collections"),             /* name */
    ngx_string("application/json"),        /* content type */
    ngx_http_iot_collections_route,        /* route */
    ngx_http_iot_collections_credentials,  /* credentials */
    ngx_http_iot_collections_authorize,    /* authorize */
    NGX_HTTP_POST|NGX_HTTP_PATCH,          /* body methods */
    ngx_http_iot_collections_error,        /* error */
    ngx_http_iot_collections_list_tail,    /* list tail */
    sizeof("],\"nextCursor\":\"\"}")        /* list tail max */
        + NGX_IOT_ID_LEN + NGX_IOT_TOKEN_HINT_LEN,
    ngx_http_iot_collections_cursor,       /* list cursor */
    ngx_string("{\"type\":\"keepAlive\"}"), /* WebSocket keep-alive */
    ngx_http_iot_collections_render,       /* data messages */
    ngx_http_iot_collections_stream_allowed, /* a stream's token changed */
    ngx_null_string,                       /* errors: content type */
    ngx_http_iot_collections_own_body,     /* routes that read their body */
    ngx_http_iot_collections_render_downlink, /* downlinks' states */
    NULL                                   /* nothing kept in a worker */
};


/* the routes, in the order ngx_http_iot_collections_route() names them */

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
    NGX_HTTP_IOT_R_DOWNLINKS,
    NGX_HTTP_IOT_R_DEVICE_DOWNLINKS,
    NGX_HTTP_IOT_R_USERS,
    NGX_HTTP_IOT_R_PROFILE,
    NGX_HTTP_IOT_R_TEAMS,
    NGX_HTTP_IOT_R_TEAMS_ACCEPT,
    NGX_HTTP_IOT_R_TEAM,
    NGX_HTTP_IOT_R_TEAM_TAGS,
    NGX_HTTP_IOT_R_TEAM_TAG,
    NGX_HTTP_IOT_R_MEMBERS,
    NGX_HTTP_IOT_R_MEMBER,
    NGX_HTTP_IOT_R_INVITES,
    NGX_HTTP_IOT_R_INVITE,
    NGX_HTTP_IOT_R_DEVICE_PSK,
    NGX_HTTP_IOT_R_OUTPUTS,
    NGX_HTTP_IOT_R_OUTPUT,
    NGX_HTTP_IOT_R_OUTPUT_INFO,
    NGX_HTTP_IOT_R_OUTPUT_TAGS,
    NGX_HTTP_IOT_R_OUTPUT_TAG,
    NGX_HTTP_IOT_R_NONE
} ngx_http_iot_route_e;


#define NGX_HTTP_IOT_DEV  NGX_HTTP_IOT_ARG_DEVICE
#define NGX_HTTP_IOT_ONE  NGX_HTTP_IOT_ARG_ONE

static ngx_http_iot_route_t  ngx_http_iot_collections_routes[] = {

    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD"),
      ngx_http_iot_collections_root, 0 },

    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD"),
      ngx_http_iot_collections_system, 0 },

    { NGX_HTTP_IOT_M_LIST, ngx_string("GET, HEAD, POST"),
      ngx_http_iot_collections_list, 0 },

    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE"),
      ngx_http_iot_collections_item, 0 },

    { NGX_HTTP_IOT_M_TAGS, ngx_string("GET, HEAD, PATCH"),
      ngx_http_iot_collections_tags, 0 },

    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE"),
      ngx_http_iot_collections_tags, NGX_HTTP_IOT_ONE },

    { NGX_HTTP_IOT_M_LIST, ngx_string("GET, HEAD, POST"),
      ngx_http_iot_collections_devices, 0 },

    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE"),
      ngx_http_iot_collections_device, 0 },

    { NGX_HTTP_IOT_M_TAGS, ngx_string("GET, HEAD, PATCH"),
      ngx_http_iot_collections_tags, NGX_HTTP_IOT_DEV },

    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE"),
      ngx_http_iot_collections_tags, NGX_HTTP_IOT_DEV|NGX_HTTP_IOT_ONE },

    { NGX_HTTP_IOT_M_LIST, ngx_string("GET, HEAD, POST"),
      ngx_http_iot_collections_tokens, 0 },

    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE"),
      ngx_http_iot_collections_token, 0 },

    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD"),
      ngx_http_iot_collections_data, 0 },

    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD"),
      ngx_http_iot_collections_data, NGX_HTTP_IOT_DEV },

    { NGX_HTTP_GET, ngx_string("GET"),
      ngx_http_iot_collections_from, 0 },

    { NGX_HTTP_GET, ngx_string("GET"),
      ngx_http_iot_collections_from, NGX_HTTP_IOT_DEV },

    { NGX_HTTP_POST, ngx_string("POST"),
      ngx_http_iot_collections_to, 0 },

    { NGX_HTTP_POST, ngx_string("POST"),
      ngx_http_iot_collections_to, NGX_HTTP_IOT_DEV },

    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD"),
      ngx_http_iot_collections_downlinks, 0 },

    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD"),
      ngx_http_iot_collections_downlinks, NGX_HTTP_IOT_DEV },

    { NGX_HTTP_IOT_M_LIST, ngx_string("GET, HEAD, POST"),
      ngx_http_iot_collections_users, 0 },

    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD"),
      ngx_http_iot_collections_profile, 0 },

    { NGX_HTTP_IOT_M_LIST, ngx_string("GET, HEAD, POST"),
      ngx_http_iot_collections_teams, 0 },

    { NGX_HTTP_POST, ngx_string("POST"),
      ngx_http_iot_collections_teams_accept, 0 },

    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE"),
      ngx_http_iot_collections_team, 0 },

    { NGX_HTTP_IOT_M_TAGS, ngx_string("GET, HEAD, PATCH"),
      ngx_http_iot_collections_team_tags, 0 },

    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE"),
      ngx_http_iot_collections_team_tags, NGX_HTTP_IOT_ONE },

    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD"),
      ngx_http_iot_collections_teams_member, 0 },

    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE"),
      ngx_http_iot_collections_teams_member, 0 },

    { NGX_HTTP_IOT_M_LIST, ngx_string("GET, HEAD, POST"),
      ngx_http_iot_collections_teams_invite, 0 },

    { NGX_HTTP_IOT_M_GET|NGX_HTTP_DELETE, ngx_string("GET, HEAD, DELETE"),
      ngx_http_iot_collections_teams_invite, 0 },

    /* write-only: docs/coap.md */
    { NGX_HTTP_PATCH|NGX_HTTP_DELETE, ngx_string("PATCH, DELETE"),
      ngx_http_iot_collections_psk, NGX_HTTP_IOT_DEV },

    { NGX_HTTP_IOT_M_LIST, ngx_string("GET, HEAD, POST"),
      ngx_http_iot_collections_outputs, 0 },

    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE"),
      ngx_http_iot_collections_output, 0 },

    { NGX_HTTP_IOT_M_GET, ngx_string("GET, HEAD"),
      ngx_http_iot_collections_output_info, 0 },

    { NGX_HTTP_IOT_M_TAGS, ngx_string("GET, HEAD, PATCH"),
      ngx_http_iot_collections_output_tags, 0 },

    { NGX_HTTP_IOT_M_ITEM, ngx_string("GET, HEAD, PATCH, DELETE"),
      ngx_http_iot_collections_output_tags, NGX_HTTP_IOT_ONE }
};


static ngx_str_t  ngx_http_iot_collections_token_header =
    ngx_string("X-API-Token");


static ngx_http_iot_route_e
ngx_http_iot_collections_match(ngx_http_iot_ctx_t *ctx)
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

        if (ngx_http_iot_is(0, "users")) {
            return NGX_HTTP_IOT_R_USERS;
        }

        if (ngx_http_iot_is(0, "profile")) {
            return NGX_HTTP_IOT_R_PROFILE;
        }

        if (ngx_http_iot_is(0, "teams")) {
            return NGX_HTTP_IOT_R_TEAMS;
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

        if (ngx_http_iot_is(0, "teams")) {
            return ngx_http_iot_is(1, "accept") ? NGX_HTTP_IOT_R_TEAMS_ACCEPT
                                                : NGX_HTTP_IOT_R_TEAM;
        }

        return NGX_HTTP_IOT_R_NONE;
    }

    if (ngx_http_iot_is(0, "teams")) {
        if (ctx->nseg == 3) {
            return ngx_http_iot_is(2, "tags") ? NGX_HTTP_IOT_R_TEAM_TAGS
                   : ngx_http_iot_is(2, "members") ? NGX_HTTP_IOT_R_MEMBERS
                   : ngx_http_iot_is(2, "invites") ? NGX_HTTP_IOT_R_INVITES
                   : NGX_HTTP_IOT_R_NONE;
        }

        if (ctx->nseg == 4) {
            return ngx_http_iot_is(2, "tags") ? NGX_HTTP_IOT_R_TEAM_TAG
                   : ngx_http_iot_is(2, "members") ? NGX_HTTP_IOT_R_MEMBER
                   : ngx_http_iot_is(2, "invites") ? NGX_HTTP_IOT_R_INVITE
                   : NGX_HTTP_IOT_R_NONE;
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

        if (ngx_http_iot_is(2, "downlinks")) {
            return NGX_HTTP_IOT_R_DOWNLINKS;
        }

        if (ngx_http_iot_is(2, "devices")) {
            return NGX_HTTP_IOT_R_DEVICES;
        }

        if (ngx_http_iot_is(2, "outputs")) {
            return NGX_HTTP_IOT_R_OUTPUTS;
        }

        return NGX_HTTP_IOT_R_NONE;

    case 4:
        if (ngx_http_iot_is(2, "tags")) {
            return NGX_HTTP_IOT_R_COLLECTION_TAG;
        }

        if (ngx_http_iot_is(2, "devices")) {
            return NGX_HTTP_IOT_R_DEVICE;
        }

        if (ngx_http_iot_is(2, "outputs")) {
            return NGX_HTTP_IOT_R_OUTPUT;
        }

        return NGX_HTTP_IOT_R_NONE;

    case 5:
        if (ngx_http_iot_is(2, "outputs")) {
            if (ngx_http_iot_is(4, "logs") || ngx_http_iot_is(4, "status")) {
                return NGX_HTTP_IOT_R_OUTPUT_INFO;
            }

            if (ngx_http_iot_is(4, "tags")) {
                return NGX_HTTP_IOT_R_OUTPUT_TAGS;
            }

            return NGX_HTTP_IOT_R_NONE;
        }

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

        if (ngx_http_iot_is(4, "downlinks")) {
            return NGX_HTTP_IOT_R_DEVICE_DOWNLINKS;
        }

        if (ngx_http_iot_is(4, "psk")) {
            return NGX_HTTP_IOT_R_DEVICE_PSK;
        }

        return NGX_HTTP_IOT_R_NONE;

    case 6:
        if (ngx_http_iot_is(2, "devices") && ngx_http_iot_is(4, "tags")) {
            return NGX_HTTP_IOT_R_DEVICE_TAG;
        }

        if (ngx_http_iot_is(2, "outputs") && ngx_http_iot_is(4, "tags")) {
            return NGX_HTTP_IOT_R_OUTPUT_TAG;
        }

        return NGX_HTTP_IOT_R_NONE;
    }

#undef ngx_http_iot_is

    return NGX_HTTP_IOT_R_NONE;
}


static ngx_http_iot_route_t *
ngx_http_iot_collections_route(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_http_iot_route_e  route;

    route = ngx_http_iot_collections_match(ctx);

    if (route == NGX_HTTP_IOT_R_NONE) {
        return NULL;
    }

    return &ngx_http_iot_collections_routes[route];
}


/* POST /teams/{tid}/invites takes any body, or none */

static ngx_uint_t
ngx_http_iot_collections_own_body(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    return ctx->route
           == &ngx_http_iot_collections_routes[NGX_HTTP_IOT_R_INVITES]
           && r->method == NGX_HTTP_POST;
}


/* X-API-Token, or on /from the api_token argument, read-only */

static ngx_int_t
ngx_http_iot_collections_credentials(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t    rc;
    ngx_str_t   *token, arg;
    ngx_uint_t   query;

    query = 0;
    token = ngx_http_iot_header(r, &ngx_http_iot_collections_token_header);

    /* /tokens/{token}: a token, or its prefix, that logs must not show */

    if (ctx->route
        && ctx->route->handler == ngx_http_iot_collections_token
        && ngx_http_iot_redact(r, &ctx->seg[1]) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (token == NULL
        && ctx->route
        && ctx->route->handler == ngx_http_iot_collections_from
        && ngx_http_arg(r, (u_char *) "api_token", 9, &arg) == NGX_OK)
    {
        /* WebSocket clients often cannot send headers */
        token = &arg;
        query = 1;
    }

    /* any api_token argument, used or not, is kept out of logs */

    if (ngx_http_arg(r, (u_char *) "api_token", 9, &arg) == NGX_OK
        && ngx_http_iot_redact(r, &arg) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (token == NULL) {
        return ngx_http_iot_invalid(r, NGX_HTTP_UNAUTHORIZED,
                                    "an X-API-Token header is "
                                    "required");
    }

    rc = ngx_iot_authenticate((ngx_cycle_t *) ngx_cycle, token, r->pool,
                              &ctx->who);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_invalid(r, NGX_HTTP_UNAUTHORIZED,
                                    "the API token is not known");
    }

    if (query && ctx->who.write) {
        /* a token in a URL ends up in logs: it may only read */
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "tokens in WebSockets must "
                                    "be read-only");
    }

    return ngx_http_iot_collections_scope(&ctx->who, r->pool);
}


/*
 * A token's resource as the core's principal: "/" and "/collections"
 * reach every collection, "/collections/{cid}" and the paths below it
 * collection cid, any other resource none.  A resource below a collection
 * ("/collections/{cid}/devices/{did}") is narrower than the core can say:
 * the dialect checks the path against it too (covers).  Tokens are this
 * dialect's: the things dialect reads their resource through this too.
 */

ngx_int_t
ngx_http_iot_collections_scope(ngx_iot_principal_t *who, ngx_pool_t *pool)
{
    u_char     *p, *last, *start;
    uint64_t    cid;
    ngx_str_t  *res;

    if (who->admin) {
        return NGX_OK;
    }

    who->all = 0;
    who->ncollections = 0;

    res = &who->resource;
    last = res->data + res->len;

    while (last - res->data > 1 && last[-1] == '/') {
        last--;
    }

    if (last - res->data == 1 && res->data[0] == '/') {
        who->all = 1;
        return NGX_OK;
    }

    if ((size_t) (last - res->data) < sizeof("/collections") - 1
        || ngx_strncmp(res->data, "/collections",
                       sizeof("/collections") - 1) != 0)
    {
        return NGX_OK;
    }

    p = res->data + sizeof("/collections") - 1;

    if (p == last) {
        who->all = 1;
        return NGX_OK;
    }

    if (*p++ != '/') {
        return NGX_OK;
    }

    start = p;

    while (p < last && *p != '/') {
        p++;
    }

    if (ngx_iot_id_decode(start, p - start, &cid) != NGX_OK) {
        return NGX_OK;
    }

    who->collections = ngx_palloc(pool, sizeof(uint64_t));
    if (who->collections == NULL) {
        return NGX_ERROR;
    }

    who->collections[0] = cid;
    who->ncollections = 1;

    return NGX_OK;
}


/*
 * May ctx->who use the route?  Everyone may read / and /system, list
 * collections (the list shows only what it reaches) and use /tokens
 * (checked against the token named).  Below /collections the principal
 * must reach the collection (the core's check) and the token's resource
 * must cover the path, checked in its canonical form, one slash between
 * segments ("//collections/x/" is "/collections/x"); changing needs write.
 */

static ngx_int_t
ngx_http_iot_collections_authorize(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    uint64_t    cid, did;
    ngx_int_t   rc;

    rc = ngx_http_iot_collections_allowed(r, ctx);

    if (rc != NGX_OK) {
        return rc;
    }

    /* the collection and device the path names, for the access log */

    cid = 0;
    did = 0;

    if (ctx->nseg > 1
        && ngx_http_iot_collections_is(&ctx->seg[0], "collections")
        && ngx_http_iot_collections_path_id(&ctx->seg[1], &cid) != NGX_OK)
    {
        cid = 0;
    }

    if (cid && ctx->nseg > 3
        && ngx_http_iot_collections_is(&ctx->seg[2], "devices")
        && ngx_http_iot_collections_path_id(&ctx->seg[3], &did) != NGX_OK)
    {
        did = 0;
    }

    ngx_http_iot_acted_on(r, cid, did);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_iot_collections_is(ngx_str_t *seg, const char *name)
{
    size_t  len;

    len = ngx_strlen(name);

    return seg->len == len && ngx_strncmp(seg->data, name, len) == 0;
}


static ngx_int_t
ngx_http_iot_collections_allowed(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    u_char                *p;
    size_t                 len;
    uint64_t               cid;
    ngx_uint_t             i, known, write;
    ngx_iot_principal_t   *who;
    ngx_http_iot_route_e   route;

    who = &ctx->who;

    if (who->admin) {
        return NGX_OK;
    }

    route = ctx->route - ngx_http_iot_collections_routes;

    switch (route) {

    case NGX_HTTP_IOT_R_ROOT:
    case NGX_HTTP_IOT_R_SYSTEM:
    case NGX_HTTP_IOT_R_PROFILE:
    case NGX_HTTP_IOT_R_TOKENS:
    case NGX_HTTP_IOT_R_TOKEN:
        return NGX_OK;

    case NGX_HTTP_IOT_R_COLLECTIONS:
        if (r->method & NGX_HTTP_IOT_M_GET) {
            return NGX_OK;
        }

        break;

    default:
        break;
    }

    /* the collection: 0 for /collections itself; unknown if no id */

    cid = 0;
    known = 1;

    if (ctx->nseg > 1
        && ngx_http_iot_collections_path_id(&ctx->seg[1], &cid) != NGX_OK)
    {
        /* not a collection at all: its handler answers 404 */
        known = 0;
    }

    write = !(r->method & NGX_HTTP_IOT_M_GET);

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

    if (route >= NGX_HTTP_IOT_R_USERS && route <= NGX_HTTP_IOT_R_INVITE) {
        /* users and teams: the handlers check roles; the token's scope */
        known = 0;
    }

    if ((known && !ngx_iot_auth_allows(who, cid, 0))
        || !ngx_http_iot_collections_covers(who, ctx->path.data,
                                            ctx->path.len))
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_FORBIDDEN,
                                    "the API token does not "
                                    "reach this resource");
    }

    if (write && !(known ? ngx_iot_auth_allows(who, cid, 1) : who->write)) {
        return ngx_http_iot_invalid(r, NGX_HTTP_FORBIDDEN,
                                    "the API token is read-only");
    }

    return NGX_OK;
}


/*
 * A stream's token changed: its resource must still reach the collection
 * and cover the stream's path, as when the stream was opened.
 */

static ngx_int_t
ngx_http_iot_collections_stream_allowed(ngx_iot_principal_t *who,
    uint64_t cid, ngx_str_t *path, ngx_pool_t *pool)
{
    if (ngx_http_iot_collections_scope(who, pool) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_iot_auth_allows(who, cid, 0)
           && ngx_http_iot_collections_covers(who, path->data, path->len);
}


/* a resource covers a path that equals it or lies below it */

ngx_uint_t
ngx_http_iot_collections_covers(ngx_iot_principal_t *who, u_char *path,
    size_t len)
{
    size_t      n;
    ngx_str_t  *resource;

    if (who->admin) {
        return 1;
    }

    resource = &who->resource;
    n = resource->len;

    while (n > 1 && resource->data[n - 1] == '/') {
        n--;
    }

    if (n == 1 && resource->data[0] == '/') {
        return 1;
    }

    if (len < n || ngx_strncmp(path, resource->data, n) != 0) {
        return 0;
    }

    return len == n || path[n] == '/';
}


/* may who read collection cid and what lies below it */

ngx_uint_t
ngx_http_iot_collections_reaches(ngx_iot_principal_t *who, uint64_t cid)
{
    u_char  *p;
    u_char   path[sizeof("/collections/") + NGX_IOT_ID_LEN];

    if (!ngx_iot_auth_allows(who, cid, 0)) {
        return 0;
    }

    p = ngx_cpymem(path, "/collections/", sizeof("/collections/") - 1);
    p = ngx_iot_id_encode(p, cid);

    return ngx_http_iot_collections_covers(who, path, p - path);
}


/* a resource is an absolute path of printable characters */

ngx_int_t
ngx_http_iot_collections_resource_check(ngx_str_t *resource)
{
    size_t  i;

    if (resource->len == 0 || resource->len > NGX_IOT_RESOURCE_MAX
        || resource->data[0] != '/')
    {
        return NGX_ERROR;
    }

    for (i = 0; i < resource->len; i++) {
        if (resource->data[i] <= 0x20 || resource->data[i] >= 0x7f) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the answer to a write, once it is durable (or failed) */

static ngx_int_t
ngx_http_iot_collections_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    ngx_int_t                            n;
    ngx_http_iot_ctx_t                  *ctx;
    ngx_http_iot_collections_outcome_t  *o;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    o = ctx->answer_data;

    if (rc != NGX_IOT_OK) {
        ngx_explicit_memzero(ctx->wait.secret, NGX_IOT_TOKEN_LEN);
        return ngx_http_iot_collections_rc_error(r, rc, o->what);
    }

    if (o->status == NGX_HTTP_NO_CONTENT) {
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    switch (o->out) {

    case NGX_HTTP_IOT_OUT_COLLECTION:
        ngx_http_iot_acted_on(r, ctx->wait.out.c.id.key, 0);
        return ngx_http_iot_collections_send_collection(r, o->status,
                                                        &ctx->wait.out.c);

    case NGX_HTTP_IOT_OUT_DEVICE:
        ngx_http_iot_acted_on(r, ctx->wait.out.d.collection_id,
                              ctx->wait.out.d.id.key);
        return ngx_http_iot_collections_send_device(r, o->status,
                                                    &ctx->wait.out.d);

    default:
        n = ngx_http_iot_collections_send_token(r, o->status,
                                                &ctx->wait.out.t,
                                                o->secret ? ctx->wait.secret
                                                          : NULL);
        ngx_explicit_memzero(ctx->wait.secret, NGX_IOT_TOKEN_LEN);
        return n;
    }
}


ngx_iot_wait_t *
ngx_http_iot_collections_waiter(ngx_http_request_t *r,
    ngx_http_iot_collections_outcome_t *outcome)
{
    return ngx_http_iot_waiter(r, ngx_http_iot_collections_answer, outcome);
}


/* the core's result codes, in this dialect's words */

ngx_int_t
ngx_http_iot_collections_rc_error(ngx_http_request_t *r, ngx_iot_rc_e rc,
    const char *what)
{
    u_char           *p;
    ngx_iot_ident_t  *ident;

    /* a device identifier another device has, named by the core's table */

    ident = ngx_iot_ident_conflict(rc);

    if (ident) {
        p = ngx_pnalloc(r->pool, ident->name.len + ident->title.len
                                 + sizeof(": another device has this "));
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        (void) ngx_sprintf(p, "%V: another device has this %V%Z",
                           &ident->name, &ident->title);

        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT, (char *) p);
    }

    switch (rc) {

    case NGX_IOT_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, what);

    case NGX_IOT_COLLECTION_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "collection not found");

    case NGX_IOT_NOT_EMPTY:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "the collection still has devices: "
                                  "delete or move them first");

    case NGX_IOT_HAS_GROUPS:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "the collection still has device groups "
                                  "(of the things dialect): delete them "
                                  "first");

    case NGX_IOT_HAS_PRODUCTS:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "the collection still has products (of "
                                  "the iotda dialect): delete them first");

    case NGX_IOT_HAS_CHILDREN:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "the device is the gateway of child "
                                  "devices (of the iotda dialect): delete "
                                  "them first");

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


ngx_int_t
ngx_http_iot_collections_path_id(ngx_str_t *seg, uint64_t *id)
{
    return ngx_iot_id_decode(seg->data, seg->len, id);
}


/* request fields: null counts as absent */

json_t *
ngx_http_iot_collections_field(json_t *body, const char *name)
{
    json_t  *v;

    v = json_object_get(body, name);

    return (v == NULL || json_is_null(v)) ? NULL : v;
}


ngx_int_t
ngx_http_iot_collections_ident_field(json_t *body, const char *name,
    uint64_t *key)
{
    json_t      *v;
    const char  *s;

    *key = 0;

    v = ngx_http_iot_collections_field(body, name);
    if (v == NULL) {
        return NGX_DECLINED;
    }

    if (!json_is_string(v)) {
        return NGX_ERROR;
    }

    s = json_string_value(v);

    return ngx_iot_ident_decode((u_char *) s, json_string_length(v), key);
}


ngx_int_t
ngx_http_iot_collections_tags_field(ngx_http_request_t *r, json_t *body,
    json_t **tags)
{
    const char  *err;

    *tags = ngx_http_iot_collections_field(body, "tags");

    if (*tags == NULL) {
        return NGX_OK;
    }

    if (ngx_iot_tags_check(*tags, &err) != NGX_OK) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST, err);
    }

    return NGX_OK;
}


/*
 * A page of a list (?limit=N&cursor=X) whose kind, row and head are set:
 * streamed, or refused for its parameters.
 */

ngx_int_t
ngx_http_iot_collections_list_page(ngx_http_request_t *r,
    ngx_http_iot_list_t *list)
{
    uint64_t   id;
    ngx_int_t  n;
    ngx_str_t  value;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &value) == NGX_OK) {
        n = ngx_atoi(value.data, value.len);

        if (n == NGX_ERROR || n > NGX_HTTP_IOT_LIST_MAX) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "limit must be a number from 0 to "
                                      "10000");
        }

        list->limit = n;
    }

    if (ngx_http_arg(r, (u_char *) "cursor", 6, &value) == NGX_OK
        && value.len)
    {
        if (list->cursor.kind == NGX_IOT_STORE_TOKENS) {
            if (value.len != NGX_IOT_TOKEN_HINT_LEN) {
                goto invalid;
            }

            ngx_memcpy(list->cursor.key, value.data, value.len);
            list->cursor.key_len = value.len;

        } else {
            if (ngx_iot_id_decode(value.data, value.len, &id) != NGX_OK) {
                goto invalid;
            }

            list->cursor.id = id;
        }

        /* the scan goes on after the row the cursor names */
        list->cursor.started = 1;
    }

    return ngx_http_iot_list_start(r, list);

invalid:

    return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST, "cursor is not valid");
}


/* / and /system */

static ngx_int_t
ngx_http_iot_collections_root(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
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
ngx_http_iot_collections_system(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    ngx_buf_t       *b;
    ngx_iot_conf_t  *icf;

    icf = ngx_iot_get_conf((ngx_cycle_t *) ngx_cycle);

    b = ngx_create_temp_buf(r->pool, 256);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last,
                         "{\"version\":\"" NGX_IOT_VERSION "\","
                         "\"buildDate\":\"" NGX_IOT_BUILD_DATE "\","
                         "\"releaseName\":\"nginx-iot\","
                         "\"defaultFieldMask\":",
                         sizeof("{\"version\":\"" NGX_IOT_VERSION "\","
                                "\"buildDate\":\"" NGX_IOT_BUILD_DATE "\","
                                "\"releaseName\":\"nginx-iot\","
                                "\"defaultFieldMask\":") - 1);
    b->last = ngx_http_iot_collections_mask_write(b->last,
                                                  icf->field_mask_default
                                                  | icf->field_mask_forced);
    b->last = ngx_cpymem(b->last, ",\"forcedFieldMask\":",
                         sizeof(",\"forcedFieldMask\":") - 1);
    b->last = ngx_http_iot_collections_mask_write(b->last,
                                                  icf->field_mask_forced);
    *b->last++ = '}';

    return ngx_http_iot_send(r, NGX_HTTP_OK, b);
}
