
/*
 * Copyright (C) nginx-iot authors
 *
 * The things dialect: the device API of KPN Things.  Its table, routes,
 * credentials (Authorization: Bearer, the API tokens of the collections
 * dialect) and scopes, its errors (RFC 9457 problem details), and the
 * ids it reads: device references in their seven forms, projects and
 * clients as UUIDs or as the collections dialect's ids, times.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_things.h"
#include "ngx_iot_teams.h"
#include "ngx_http_iot_collections.h"
#include "ngx_iot_ident.h"
#include "ngx_iot_adapters.h"


static ngx_http_iot_route_t *ngx_http_iot_things_route(
    ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_things_credentials(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_things_authorize(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_uint_t ngx_http_iot_things_own_body(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_things_id_prefix(ngx_str_t *s,
    const char *prefix);
static u_char *ngx_http_iot_things_two(u_char *p, ngx_uint_t n);
static int64_t ngx_http_iot_things_days(ngx_int_t y, ngx_int_t m,
    ngx_int_t d);


ngx_http_iot_dialect_t  ngx_http_iot_things_dialect = {
    ngx_string("things"),                  /* name */
    ngx_string("application/json"),        /* content type */
    ngx_http_iot_things_route,             /* route */
    ngx_http_iot_things_credentials,       /* credentials */
    ngx_http_iot_things_authorize,         /* authorize */
    NGX_HTTP_POST|NGX_HTTP_PUT,            /* body methods */
    ngx_http_iot_things_error,             /* error */
    ngx_http_iot_things_list_tail,         /* list tail */
    sizeof("],\"next\":\"?&cursor=\",\"previous\":\"?&cursor=\"}")
        + 2 * (NGX_HTTP_IOT_THINGS_CURSOR_MAX                /* tail max */
               + NGX_HTTP_IOT_THINGS_ARGS_MAX),
    ngx_http_iot_things_cursor,            /* list cursor */
    ngx_null_string,                       /* WebSocket keep-alive */
    NULL,                                  /* data messages: none yet */
    NULL,                                  /* streams: none yet */
    ngx_string("application/problem+json"), /* errors */
    ngx_http_iot_things_own_body,          /* ingestion: signed bytes */
    NULL,                                  /* downlinks' states: no streams */
    NULL                                   /* nothing kept in a worker */
};


typedef enum {
    NGX_HTTP_IOT_THINGS_R_DEVICES = 0,
    NGX_HTTP_IOT_THINGS_R_DEVICE,
    NGX_HTTP_IOT_THINGS_R_ADAPTERS,
    NGX_HTTP_IOT_THINGS_R_ADAPTER,
    NGX_HTTP_IOT_THINGS_R_GROUPS,
    NGX_HTTP_IOT_THINGS_R_GROUP,
    NGX_HTTP_IOT_THINGS_R_MEMBERS,
    NGX_HTTP_IOT_THINGS_R_MEMBER,
    NGX_HTTP_IOT_THINGS_R_LINKS,
    NGX_HTTP_IOT_THINGS_R_LINK,
    NGX_HTTP_IOT_THINGS_R_INGEST,
    NGX_HTTP_IOT_THINGS_R_NONE
} ngx_http_iot_things_route_e;


static ngx_http_iot_route_t  ngx_http_iot_things_routes[] = {

    { NGX_HTTP_GET|NGX_HTTP_POST, ngx_string("GET, POST"),
      ngx_http_iot_things_devices, 0 },

    { NGX_HTTP_GET|NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_string("GET, PUT, DELETE"),
      ngx_http_iot_things_device, 0 },

    { NGX_HTTP_GET|NGX_HTTP_POST, ngx_string("GET, POST"),
      ngx_http_iot_things_adapters, 0 },

    { NGX_HTTP_GET|NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_string("GET, PUT, DELETE"),
      ngx_http_iot_things_adapters, 1 },

    { NGX_HTTP_GET|NGX_HTTP_POST, ngx_string("GET, POST"),
      ngx_http_iot_things_groups, 0 },

    { NGX_HTTP_GET|NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_string("GET, PUT, DELETE"),
      ngx_http_iot_things_group, 0 },

    { NGX_HTTP_GET|NGX_HTTP_POST, ngx_string("GET, POST"),
      ngx_http_iot_things_members, 0 },

    { NGX_HTTP_GET|NGX_HTTP_DELETE, ngx_string("GET, DELETE"),
      ngx_http_iot_things_members, 1 },

    { NGX_HTTP_GET, ngx_string("GET"),
      ngx_http_iot_things_links, 0 },

    { NGX_HTTP_GET, ngx_string("GET"),
      ngx_http_iot_things_links, 1 },

    { NGX_HTTP_POST, ngx_string("POST"),
      ngx_http_iot_things_ingest, 0 }
};


static ngx_str_t  ngx_http_iot_things_authorization =
    ngx_string("Authorization");


static ngx_http_iot_route_t *
ngx_http_iot_things_route(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_str_t                    *s;
    ngx_http_iot_things_route_e   route;

    s = ctx->seg;
    route = NGX_HTTP_IOT_THINGS_R_NONE;

#define ngx_http_iot_things_is(n, name)                                       \
    (s[n].len == sizeof(name) - 1                                             \
     && ngx_strncmp(s[n].data, name, sizeof(name) - 1) == 0)

    if (ctx->nseg >= 1 && ngx_http_iot_things_is(0, "devices")) {

        switch (ctx->nseg) {

        case 1:
            route = NGX_HTTP_IOT_THINGS_R_DEVICES;
            break;

        case 2:
            route = NGX_HTTP_IOT_THINGS_R_DEVICE;
            break;

        case 3:
            if (ngx_http_iot_things_is(2, "network-adapters")) {
                route = NGX_HTTP_IOT_THINGS_R_ADAPTERS;

            } else if (ngx_http_iot_things_is(2, "device-groups")) {
                route = NGX_HTTP_IOT_THINGS_R_LINKS;
            }

            break;

        case 4:
            if (ngx_http_iot_things_is(2, "network-adapters")) {
                route = NGX_HTTP_IOT_THINGS_R_ADAPTER;

            } else if (ngx_http_iot_things_is(2, "device-groups")) {
                route = NGX_HTTP_IOT_THINGS_R_LINK;
            }

            break;
        }

    } else if (ctx->nseg == 4 && ngx_http_iot_things_is(0, "ingestion")
               && ngx_http_iot_things_is(1, "ip")
               && ngx_http_iot_things_is(2, "senml")
               && ngx_http_iot_things_is(3, "v1"))
    {
        route = NGX_HTTP_IOT_THINGS_R_INGEST;

    } else if (ctx->nseg >= 1 && ngx_http_iot_things_is(0, "device-groups")) {

        switch (ctx->nseg) {

        case 1:
            route = NGX_HTTP_IOT_THINGS_R_GROUPS;
            break;

        case 2:
            route = NGX_HTTP_IOT_THINGS_R_GROUP;
            break;

        case 3:
            if (ngx_http_iot_things_is(2, "devices")) {
                route = NGX_HTTP_IOT_THINGS_R_MEMBERS;
            }

            break;

        case 4:
            if (ngx_http_iot_things_is(2, "devices")) {
                route = NGX_HTTP_IOT_THINGS_R_MEMBER;
            }

            break;
        }
    }

#undef ngx_http_iot_things_is

    if (route == NGX_HTTP_IOT_THINGS_R_NONE) {
        return NULL;
    }

    return &ngx_http_iot_things_routes[route];
}


/* Authorization: Bearer <token>, a token of the collections dialect */

static ngx_int_t
ngx_http_iot_things_credentials(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t         rc;
    ngx_str_t        *h, token;
    ngx_table_elt_t  *www;

    if (ctx->route
        == &ngx_http_iot_things_routes[NGX_HTTP_IOT_THINGS_R_INGEST])
    {
        /* a device signs what it sends (ngx_http_iot_things_ingest.c) */
        return NGX_OK;
    }

    h = ngx_http_iot_header(r, &ngx_http_iot_things_authorization);

    if (h == NULL) {
        goto unauthorized;
    }

    if (h->len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(h->data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1) != 0)
    {
        goto unauthorized;
    }

    token.data = h->data + sizeof("Bearer ") - 1;
    token.len = h->len - (sizeof("Bearer ") - 1);

    while (token.len && token.data[0] == ' ') {
        token.data++;
        token.len--;
    }

    rc = ngx_iot_authenticate((ngx_cycle_t *) ngx_cycle, &token, r->pool,
                              &ctx->who);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_invalid(r, NGX_HTTP_UNAUTHORIZED,
                                    "the bearer token is not known");
    }

    return ngx_http_iot_collections_scope(&ctx->who, r->pool);

unauthorized:

    www = ngx_list_push(&r->headers_out.headers);
    if (www == NULL) {
        return NGX_ERROR;
    }

    www->hash = 1;
    ngx_str_set(&www->key, "WWW-Authenticate");
    ngx_str_set(&www->value, "Bearer");

    return ngx_http_iot_invalid(r, NGX_HTTP_UNAUTHORIZED,
                                "an Authorization header with a "
                                "Bearer token is required");
}


/*
 * Writes need a token that may write; which projects it reaches is
 * checked by each route against what it names (an unreachable device or
 * project is answered as one that does not exist).
 */

static ngx_int_t
ngx_http_iot_things_authorize(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    if ((r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
        || ctx->route
           == &ngx_http_iot_things_routes[NGX_HTTP_IOT_THINGS_R_INGEST])
    {
        return NGX_OK;
    }

    if (!ctx->who.write) {
        return ngx_http_iot_invalid(r, NGX_HTTP_FORBIDDEN,
                                    "the token is read-only");
    }

    return NGX_OK;
}


/* ingestion reads its body as bytes: the signature covers them */

static ngx_uint_t
ngx_http_iot_things_own_body(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    return ctx->route
           == &ngx_http_iot_things_routes[NGX_HTTP_IOT_THINGS_R_INGEST];
}


/*
 * May who reach collection cid (write: and change it)?  A token's
 * resource below a collection (one device of the collections dialect)
 * reaches no project here: this dialect cannot narrow it that far.
 */

ngx_uint_t
ngx_http_iot_things_reaches(ngx_iot_principal_t *who, uint64_t cid,
    ngx_uint_t write)
{
    return ngx_iot_auth_allows(who, cid, write)
           && ngx_http_iot_collections_reaches(who, cid);
}


/* errors: RFC 9457 problem details */

static ngx_str_t *
ngx_http_iot_things_title(ngx_uint_t status)
{
    ngx_uint_t  i;

    static struct {
        ngx_uint_t  status;
        ngx_str_t   title;
    } titles[] = {
        { 400, ngx_string("Bad Request") },
        { 401, ngx_string("Unauthorized") },
        { 403, ngx_string("Forbidden") },
        { 404, ngx_string("Not Found") },
        { 405, ngx_string("Method Not Allowed") },
        { 408, ngx_string("Request Timeout") },
        { 409, ngx_string("Conflict") },
        { 413, ngx_string("Content Too Large") },
        { 500, ngx_string("Internal Server Error") },
        { 503, ngx_string("Service Unavailable") },
        { 0, ngx_string("Error") }
    };

    for (i = 0; titles[i].status; i++) {
        if (titles[i].status == status) {
            break;
        }
    }

    return &titles[i].title;
}


ngx_buf_t *
ngx_http_iot_things_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    size_t      len, size;
    ngx_buf_t  *b;
    ngx_str_t  *title;

    len = ngx_strlen(message);
    title = ngx_http_iot_things_title(status);

    size = sizeof("{\"type\":\"about:blank\",\"title\":\"\",\"status\":,"
                  "\"detail\":\"\"}")
           + title->len + NGX_INT_T_LEN
           + len + ngx_escape_json(NULL, (u_char *) message, len);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->last,
                          "{\"type\":\"about:blank\",\"title\":\"%V\","
                          "\"status\":%ui,\"detail\":\"", title, status);
    b->last = (u_char *) ngx_escape_json(b->last, (u_char *) message, len);
    b->last = ngx_cpymem(b->last, "\"}", 2);

    return b;
}


/* the core's result codes, in this dialect's words */

ngx_int_t
ngx_http_iot_things_rc_error(ngx_http_request_t *r, ngx_iot_rc_e rc,
    const char *what)
{
    u_char           *p;
    ngx_iot_ident_t  *ident;

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

    case NGX_IOT_EXISTS:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "the device has a network adapter of this "
                                  "type already");

    case NGX_IOT_OTHER_COLLECTION:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "deviceId: the device is not in the "
                                  "group's project");

    case NGX_IOT_IMMUTABLE:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "the identifier of a network adapter "
                                  "cannot change: delete the adapter and add "
                                  "another");

    case NGX_IOT_COLLECTION_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "projectId: no such project");

    case NGX_IOT_HAS_CHILDREN:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "the device is the gateway of child "
                                  "devices (of the iotda dialect): delete "
                                  "them first");

    case NGX_IOT_TOO_MANY_TAGS:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "the device's tags (of the collections "
                                  "dialect) would be too large");

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


/* a case-insensitive prefix of an id: its length, 0 if it has not */

static ngx_int_t
ngx_http_iot_things_id_prefix(ngx_str_t *s, const char *prefix)
{
    size_t  len;

    len = ngx_strlen(prefix);

    if (s->len < len || ngx_strncasecmp(s->data, (u_char *) prefix, len) != 0)
    {
        return 0;
    }

    return len;
}


/*
 * {deviceId}: a UUID, imei:<15 or 16 digits>, deveui:<16 hex>,
 * dvnuuid:<uuid>, or the same three as urn:dev:<form>[:], any case.
 * NGX_OK and the device (the caller checks its project); NGX_DECLINED:
 * answered (400 for no such form, 404 for no such device).
 */

ngx_int_t
ngx_http_iot_things_device_ref(ngx_http_request_t *r, ngx_str_t *ref,
    ngx_iot_device_t *d)
{
    u_char        uuid[NGX_IOT_UUID_SIZE];
    size_t        i, n;
    uint64_t      key;
    ngx_str_t     s;
    ngx_uint_t    urn;
    ngx_iot_rc_e  rc;

    s = *ref;

    if (ngx_iot_uuid_decode(s.data, s.len, uuid) == NGX_OK) {
        rc = ngx_iot_device_get_uuid((ngx_cycle_t *) ngx_cycle, uuid,
                                     r->pool, d);
        goto found;
    }

    n = ngx_http_iot_things_id_prefix(&s, "urn:dev:");
    urn = (n != 0);
    s.data += n;
    s.len -= n;

    if (urn && s.len && s.data[s.len - 1] == ':') {
        s.len--;
    }

    n = ngx_http_iot_things_id_prefix(&s, "imei:");

    if (n) {
        s.data += n;
        s.len -= n;

        if (s.len < 15 || s.len > 16) {
            goto invalid;
        }

        for (i = 0; i < s.len; i++) {
            if (s.data[i] < '0' || s.data[i] > '9') {
                goto invalid;
            }
        }

        (void) ngx_iot_ident_decode(s.data, s.len, &key);

        rc = ngx_iot_device_get_ident((ngx_cycle_t *) ngx_cycle,
                                      NGX_IOT_IDENT_IMEI, key, r->pool, d);
        goto found;
    }

    n = ngx_http_iot_things_id_prefix(&s, "deveui:");

    if (n) {
        s.data += n;
        s.len -= n;

        if (s.len != 16) {
            goto invalid;
        }

        for (i = 0; i < s.len; i++) {
            if (!isxdigit(s.data[i])) {
                goto invalid;
            }
        }

        ngx_memzero(uuid, NGX_IOT_UUID_SIZE);
        (void) ngx_iot_hex_decode(uuid, s.data, s.len);

        rc = ngx_iot_device_get_adapter((ngx_cycle_t *) ngx_cycle,
                                        NGX_IOT_IDENT_DEVEUI, uuid, r->pool,
                                        d);
        goto found;
    }

    n = ngx_http_iot_things_id_prefix(&s, "dvnuuid:");

    if (n) {
        if (ngx_iot_uuid_decode(s.data + n, s.len - n, uuid) != NGX_OK) {
            goto invalid;
        }

        rc = ngx_iot_device_get_adapter((ngx_cycle_t *) ngx_cycle,
                                        NGX_IOT_IDENT_DVNUUID, uuid, r->pool,
                                        d);
        goto found;
    }

invalid:

    return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                "deviceId: not a UUID, imei:, "
                                "deveui:, dvnuuid: or urn:dev: id");

found:

    if (rc == NGX_IOT_NOT_FOUND) {
        return ngx_http_iot_invalid(r, NGX_HTTP_NOT_FOUND,
                                    "device not found");
    }

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_invalid(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "the device cannot be read");
    }

    ngx_http_iot_acted_on(r, d->collection_id, d->id.key);

    return NGX_OK;
}


/*
 * projectId: a collection's UUID, or its id in the collections dialect.
 * NGX_OK and its id; NGX_DECLINED: no such collection.
 */

ngx_int_t
ngx_http_iot_things_project(ngx_http_request_t *r, u_char *s, size_t len,
    uint64_t *cid)
{
    u_char                uuid[NGX_IOT_UUID_SIZE];
    ngx_iot_collection_t  c;

    if (ngx_iot_uuid_decode(s, len, uuid) == NGX_OK) {
        if (ngx_iot_collection_get_uuid((ngx_cycle_t *) ngx_cycle, uuid,
                                        r->pool, &c)
            != NGX_IOT_OK)
        {
            return NGX_DECLINED;
        }

        *cid = c.id.key;
        ngx_http_iot_acted_on(r, *cid, 0);
        return NGX_OK;
    }

    if (ngx_iot_id_decode(s, len, cid) != NGX_OK
        || !ngx_iot_collection_exists((ngx_cycle_t *) ngx_cycle, *cid))
    {
        return NGX_DECLINED;
    }

    ngx_http_iot_acted_on(r, *cid, 0);

    return NGX_OK;
}


/*
 * clientId: a team of the caller's user, by its UUID or by its id in the
 * collections dialect (teamId), through the core's one mapping
 * (ngx_iot_team_resolve).  NGX_OK, NGX_DECLINED: no such client for who.
 */

ngx_int_t
ngx_http_iot_things_client(ngx_iot_principal_t *who, u_char *s, size_t len,
    uint64_t *team)
{
    u_char  uuid[NGX_IOT_UUID_SIZE];

    return ngx_iot_team_resolve((ngx_cycle_t *) ngx_cycle, who, s, len, team,
                                uuid) == NGX_OK ? NGX_OK : NGX_DECLINED;
}


/* a project (collection cid) must be of the client given (team) */

ngx_int_t
ngx_http_iot_things_client_of(ngx_http_request_t *r, uint64_t team,
    uint64_t cid)
{
    if (ngx_iot_collection_team((ngx_cycle_t *) ngx_cycle, cid) != team) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "clientId: the project is not "
                                    "this client's");
    }

    return NGX_OK;
}


/* "clientId":"<uuid>" of collection cid's team; NGX_DECLINED: none */

ngx_int_t
ngx_http_iot_things_client_put(u_char *p, uint64_t cid, u_char **out)
{
    u_char       uuid[NGX_IOT_UUID_SIZE];
    uint64_t     team;
    ngx_cycle_t  *cycle;

    cycle = (ngx_cycle_t *) ngx_cycle;

    team = ngx_iot_collection_team(cycle, cid);

    if (team == 0 || ngx_iot_team_uuid_of(cycle, team, uuid) != NGX_OK) {
        return NGX_DECLINED;
    }

    p = ngx_cpymem(p, ",\"clientId\":\"", sizeof(",\"clientId\":\"") - 1);
    p = ngx_iot_uuid_encode(p, uuid);
    *p++ = '"';

    *out = p;

    return NGX_OK;
}


/* times: ISO 8601 in UTC with milliseconds, 2024-12-31T23:00:00.000Z */

u_char *
ngx_http_iot_things_time(u_char *p, uint64_t ms)
{
    ngx_uint_t  y, f;
    ngx_tm_t    tm;

    ngx_gmtime((time_t) (ms / 1000), &tm);

    /* digits written directly: every device in an answer has two */

    y = (ngx_uint_t) tm.ngx_tm_year;

    if (y > 9999) {
        return ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                           tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                           tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                           (int) (ms % 1000));
    }

    f = (ngx_uint_t) (ms % 1000);

    *p++ = (u_char) ('0' + y / 1000);
    *p++ = (u_char) ('0' + y / 100 % 10);
    *p++ = (u_char) ('0' + y / 10 % 10);
    *p++ = (u_char) ('0' + y % 10);
    *p++ = '-';
    p = ngx_http_iot_things_two(p, tm.ngx_tm_mon);
    *p++ = '-';
    p = ngx_http_iot_things_two(p, tm.ngx_tm_mday);
    *p++ = 'T';
    p = ngx_http_iot_things_two(p, tm.ngx_tm_hour);
    *p++ = ':';
    p = ngx_http_iot_things_two(p, tm.ngx_tm_min);
    *p++ = ':';
    p = ngx_http_iot_things_two(p, tm.ngx_tm_sec);
    *p++ = '.';
    *p++ = (u_char) ('0' + f / 100);
    *p++ = (u_char) ('0' + f / 10 % 10);
    *p++ = (u_char) ('0' + f % 10);
    *p++ = 'Z';

    return p;
}


static u_char *
ngx_http_iot_things_two(u_char *p, ngx_uint_t n)
{
    *p++ = (u_char) ('0' + n / 10 % 10);
    *p++ = (u_char) ('0' + n % 10);

    return p;
}


/*
 * An ISO 8601 date-time as the filters take it: YYYY-MM-DDTHH:MM:SS,
 * optional fraction, then Z or an offset +HH:MM / -HH:MM.
 */

ngx_int_t
ngx_http_iot_things_parse_time(u_char *s, size_t len, uint64_t *ms)
{
    u_char      *p, *last;
    int64_t      t, frac, scale;
    ngx_int_t    v[6], off, sign, oh, om;
    ngx_uint_t   i;

    static size_t     widths[] = { 4, 2, 2, 2, 2, 2 };
    static u_char     seps[] = { '-', '-', 'T', ':', ':', 0 };
    static ngx_int_t  mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };

    p = s;
    last = s + len;

    for (i = 0; i < 6; i++) {
        if ((size_t) (last - p) < widths[i]) {
            return NGX_ERROR;
        }

        v[i] = ngx_atoi(p, widths[i]);
        if (v[i] == NGX_ERROR) {
            return NGX_ERROR;
        }

        p += widths[i];

        if (seps[i]) {
            if (p == last
                || (*p != seps[i] && !(seps[i] == 'T' && *p == 't')))
            {
                return NGX_ERROR;
            }

            p++;
        }
    }

    if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1
        || v[2] > mdays[v[1] - 1] || v[3] > 23 || v[4] > 59 || v[5] > 60)
    {
        return NGX_ERROR;
    }

    if (v[1] == 2 && v[2] == 29
        && !(v[0] % 4 == 0 && (v[0] % 100 != 0 || v[0] % 400 == 0)))
    {
        return NGX_ERROR;
    }

    frac = 0;
    scale = 1000;

    if (p < last && *p == '.') {
        p++;

        if (p == last || *p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }

            p++;
        }
    }

    off = 0;

    if (p < last && (*p == 'Z' || *p == 'z')) {
        p++;

    } else if (p < last && (*p == '+' || *p == '-')) {
        sign = (*p == '-') ? -1 : 1;
        p++;

        if (last - p != 5 || p[2] != ':') {
            return NGX_ERROR;
        }

        oh = ngx_atoi(p, 2);
        om = ngx_atoi(p + 3, 2);

        if (oh == NGX_ERROR || om == NGX_ERROR || oh > 23 || om > 59) {
            return NGX_ERROR;
        }

        off = sign * (oh * 3600 + om * 60);
        p += 5;

    } else {
        return NGX_ERROR;
    }

    if (p != last) {
        return NGX_ERROR;
    }

    t = ngx_http_iot_things_days(v[0], v[1], v[2]) * 86400
        + v[3] * 3600 + v[4] * 60 + v[5] - off;

    if (t < 0) {
        return NGX_ERROR;
    }

    *ms = (uint64_t) t * 1000 + frac;

    return NGX_OK;
}


/* days from 1970-01-01 to a date of the Gregorian calendar */

static int64_t
ngx_http_iot_things_days(ngx_int_t y, ngx_int_t m, ngx_int_t d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


/* a JSON answer */

ngx_int_t
ngx_http_iot_things_send_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *json)
{
    size_t      size;
    ngx_buf_t  *b;

    size = json_dumpb(json, NULL, 0, JSON_COMPACT);

    b = ngx_create_temp_buf(r->pool, size ? size : 1);
    if (b == NULL) {
        json_decref(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last += json_dumpb(json, (char *) b->pos, size, JSON_COMPACT);
    json_decref(json);

    return ngx_http_iot_send(r, status, b);
}
