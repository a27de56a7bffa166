
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's devices: a device of the one registry as IoTDA
 * shows it.  Its device_id is its id in the collections dialect, its
 * app_id (resource space) its collection, its device_name its tags.name,
 * its node_id its IMEI (else its IMSI).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_iotda.h"


/* what a list takes */
typedef struct {
    ngx_iot_principal_t           *who;
    uint64_t                       cid;         /* app_id; 0: any */
    ngx_str_t                      node_id;
    ngx_str_t                      device_name;
    uint64_t                       start;       /* ms, registration */
    uint64_t                       end;
    ngx_uint_t                     has_start;
    ngx_uint_t                     has_end;
    ngx_uint_t                     none;        /* nothing can match */
    ngx_pool_t                    *tmp;
} ngx_http_iot_iotda_filter_t;


static json_t *ngx_http_iot_iotda_device_json(ngx_http_request_t *r,
    ngx_iot_device_t *d, ngx_uint_t summary);
static json_t *ngx_http_iot_iotda_string(u_char *p, size_t len);
static ngx_int_t ngx_http_iot_iotda_list_args(ngx_http_request_t *r,
    ngx_http_iot_iotda_filter_t *f, uint64_t *after, ngx_uint_t *limit,
    ngx_uint_t *offset);
static ngx_uint_t ngx_http_iot_iotda_match(ngx_iot_device_t *d, void *data);
static u_char *ngx_http_iot_iotda_node_id(u_char *p, ngx_iot_device_t *d);
static ngx_uint_t ngx_http_iot_iotda_id_chars(ngx_str_t *s, size_t max);


/*
 * GET /devices: the devices the credentials reach, by their id (the
 * registry's order), limit (1 to 50, default 10) after the marker and
 * offset (0 to 500) more; page.count: how many match in all.
 */

ngx_int_t
ngx_http_iot_iotda_devices(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                        marker[sizeof("00000000") - 1 + 16];
    json_t                       *o, *list, *page, *item;
    uint64_t                      after;
    ngx_int_t                     rc;
    ngx_uint_t                    limit, offset, found, count, i, fail;
    ngx_iot_device_t             *out;
    ngx_http_iot_iotda_filter_t   f;

    ngx_memzero(&f, sizeof(ngx_http_iot_iotda_filter_t));
    f.who = &ctx->who;

    rc = ngx_http_iot_iotda_list_args(r, &f, &after, &limit, &offset);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    out = ngx_palloc(r->pool, (offset + limit) * sizeof(ngx_iot_device_t));
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f.tmp = ngx_create_pool(1024, r->connection->log);
    if (f.tmp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iot_device_select((ngx_cycle_t *) ngx_cycle, after,
                               ngx_http_iot_iotda_match, &f, r->pool, out,
                               offset + limit, &found, &count);

    ngx_destroy_pool(f.tmp);

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the devices cannot be read "
                                  "now");
    }

    o = json_object();
    list = json_array();
    page = json_object();

    if (o == NULL || list == NULL || page == NULL) {
        json_decref(o);
        json_decref(list);
        json_decref(page);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    fail = (json_object_set_new(o, "devices", list) != 0);

    for (i = offset; i < found; i++) {
        item = ngx_http_iot_iotda_device_json(r, &out[i], 1);
        fail |= (item == NULL || json_array_append_new(list, item) != 0);
    }

    fail |= (json_object_set_new(page, "count", json_integer(count)) != 0);

    if (found > offset) {
        (void) ngx_sprintf(marker, "00000000%016xL", out[found - 1].id.key);
        fail |= (json_object_set_new(page, "marker",
                                     json_stringn((char *) marker,
                                                  sizeof(marker)))
                 != 0);
    }

    fail |= (json_object_set_new(o, "page", page) != 0);

    if (fail) {
        json_decref(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, o);
}


/*
 * The query: each argument checked against its rules, unknown ones
 * ignored.  NGX_OK; NGX_DECLINED: ctx->status and ctx->message say why.
 */

static ngx_int_t
ngx_http_iot_iotda_list_args(ngx_http_request_t *r,
    ngx_http_iot_iotda_filter_t *f, uint64_t *after, ngx_uint_t *limit,
    ngx_uint_t *offset)
{
    u_char       *p, *last;
    time_t        t;
    ngx_int_t     rc;
    ngx_str_t     key, value;
    ngx_uint_t    cascade;

    *after = 0;
    *limit = NGX_HTTP_IOT_IOTDA_LIMIT;
    *offset = 0;
    cascade = 0;

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {

        rc = ngx_http_iot_iotda_next_arg(r, &p, last, &key, &value);
        if (rc != NGX_OK) {
            return rc;
        }

        rc = ngx_http_iot_iotda_page_arg(r, &key, &value, after, limit,
                                         offset);
        if (rc == NGX_ABORT) {
            return NGX_DECLINED;
        }

        if (rc == NGX_OK) {
            continue;
        }

#define ngx_http_iot_iotda_is(k)                                              \
    (key.len == sizeof(k) - 1 && ngx_strncmp(key.data, k, key.len) == 0)

        if (ngx_http_iot_iotda_is("app_id")) {
            if (!ngx_http_iot_iotda_id_chars(&value, 36)) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 app_id must be 1 to "
                                          "36 letters, digits, _ or -");
            }

            if (ngx_iot_id_decode(value.data, value.len, &f->cid) != NGX_OK
                || !ngx_iot_collection_exists((ngx_cycle_t *) ngx_cycle,
                                              f->cid)
                || !ngx_http_iot_iotda_reaches(f->who, f->cid, 0))
            {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_FORBIDDEN,
                                          "IOTDA.001000 the resource space "
                                          "(app_id) does not exist");
            }

        } else if (ngx_http_iot_iotda_is("product_id")
                   || ngx_http_iot_iotda_is("gateway_id"))
        {
            if (!ngx_http_iot_iotda_id_chars(&value,
                                             key.data[0] == 'p' ? 36 : 128))
            {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          key.data[0] == 'p'
                                          ? "IOTDA.000006 product_id must be "
                                            "1 to 36 letters, digits, _ or -"
                                          : "IOTDA.000006 gateway_id must be "
                                            "1 to 128 letters, digits, _ or "
                                            "-");
            }

            /* no device has a product, nor a parent, yet */
            f->none = 1;

        } else if (ngx_http_iot_iotda_is("node_id")) {
            if (!ngx_http_iot_iotda_id_chars(&value, 64)) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 node_id must be 1 to "
                                          "64 letters, digits, _ or -");
            }

            f->node_id = value;

        } else if (ngx_http_iot_iotda_is("device_name")) {
            if (value.len == 0 || value.len > 256) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 device_name must be "
                                          "1 to 256 characters");
            }

            f->device_name = value;

        } else if (ngx_http_iot_iotda_is("is_cascade_query")) {
            if (value.len == 4 && ngx_strncmp(value.data, "true", 4) == 0) {
                cascade = 1;

            } else if (!(value.len == 5
                         && ngx_strncmp(value.data, "false", 5) == 0))
            {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 is_cascade_query "
                                          "must be true or false");
            }

        } else if (ngx_http_iot_iotda_is("start_time")
                   || ngx_http_iot_iotda_is("end_time"))
        {
            if (ngx_http_iot_iotda_date(&value, &t) != NGX_OK) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000009 start_time and "
                                          "end_time must be "
                                          "yyyyMMdd'T'HHmmss'Z'");
            }

            if (key.data[0] == 's') {
                f->start = (uint64_t) t * 1000;
                f->has_start = 1;

            } else {
                f->end = (uint64_t) t * 1000 + 999;
                f->has_end = 1;
            }
        }

#undef ngx_http_iot_iotda_is
    }

    (void) cascade;

    if (f->has_start && f->has_end && f->start > f->end) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000010 start_time is after "
                                  "end_time");
    }

    return NGX_OK;
}


/*
 * The next argument of the query, its value decoded: NGX_OK, NGX_ERROR.
 */

ngx_int_t
ngx_http_iot_iotda_next_arg(ngx_http_request_t *r, u_char **pos,
    u_char *last, ngx_str_t *key, ngx_str_t *value)
{
    u_char  *p, *start, *eq, *dst, *src;

    p = *pos;
    start = p;

    while (p < last && *p != '&') {
        p++;
    }

    key->data = start;
    eq = ngx_strlchr(start, p, '=');
    key->len = (eq ? eq : p) - start;

    value->len = 0;
    value->data = (u_char *) "";

    if (eq) {
        value->data = ngx_pnalloc(r->pool, p - eq);
        if (value->data == NULL) {
            return NGX_ERROR;
        }

        src = eq + 1;
        dst = value->data;
        ngx_unescape_uri(&dst, &src, p - eq - 1, NGX_UNESCAPE_URI);
        value->len = dst - value->data;
    }

    *pos = (p < last) ? p + 1 : p;

    return NGX_OK;
}


/*
 * limit (1 to 50), marker (24 hex digits: after the id it names; above
 * every id: from the start), offset (0 to 500).  NGX_OK: taken;
 * NGX_DECLINED: another argument; NGX_ABORT: invalid, noted in ctx.
 */

ngx_int_t
ngx_http_iot_iotda_page_arg(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, uint64_t *after, ngx_uint_t *limit,
    ngx_uint_t *offset)
{
    uint64_t    high, low;
    ngx_int_t   n;
    ngx_uint_t  i;

#define ngx_http_iot_iotda_key(k)                                             \
    (key->len == sizeof(k) - 1 && ngx_strncmp(key->data, k, key->len) == 0)

    if (ngx_http_iot_iotda_key("limit")) {
        n = ngx_atoi(value->data, value->len);

        if (n == NGX_ERROR || n < 1 || n > NGX_HTTP_IOT_IOTDA_LIMIT_MAX) {
            (void) ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000017 limit must be a "
                                              "number from 1 to 50");
            return NGX_ABORT;
        }

        *limit = n;
        return NGX_OK;
    }

    if (ngx_http_iot_iotda_key("offset")) {
        n = ngx_atoi(value->data, value->len);

        if (n == NGX_ERROR || n > NGX_HTTP_IOT_IOTDA_OFFSET_MAX) {
            (void) ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 offset must be a "
                                              "number from 0 to 500");
            return NGX_ABORT;
        }

        *offset = n;
        return NGX_OK;
    }

    if (ngx_http_iot_iotda_key("marker")) {
        for (i = 0; i < value->len && isxdigit(value->data[i]); i++) {
            /* void */
        }

        if (value->len != 24 || i != 24) {
            (void) ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000018 marker must be "
                                              "24 hex digits");
            return NGX_ABORT;
        }

        high = ngx_hextoi(value->data, 8);
        low = (uint64_t) ngx_hextoi(value->data + 8, 8) << 32
              | (uint64_t) ngx_hextoi(value->data + 16, 8);

        /* beyond every id (the default, all f): from the start */
        *after = high ? 0 : low;

        return NGX_OK;
    }

#undef ngx_http_iot_iotda_key

    return NGX_DECLINED;
}


/* the paging arguments and app_id of a list (products) */

ngx_int_t
ngx_http_iot_iotda_page_args(ngx_http_request_t *r, uint64_t *after,
    ngx_uint_t *limit, ngx_uint_t *offset, ngx_str_t *app_id)
{
    u_char     *p, *last;
    ngx_int_t   rc;
    ngx_str_t   key, value;

    *after = 0;
    *limit = NGX_HTTP_IOT_IOTDA_LIMIT;
    *offset = 0;
    ngx_str_null(app_id);

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {

        if (ngx_http_iot_iotda_next_arg(r, &p, last, &key, &value) != NGX_OK)
        {
            return NGX_ERROR;
        }

        rc = ngx_http_iot_iotda_page_arg(r, &key, &value, after, limit,
                                         offset);

        if (rc == NGX_ABORT) {
            return NGX_DECLINED;
        }

        if (rc == NGX_DECLINED
            && key.len == sizeof("app_id") - 1
            && ngx_strncmp(key.data, "app_id", key.len) == 0)
        {
            if (!ngx_http_iot_iotda_id_chars(&value, 36)) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                  "IOTDA.000006 app_id must "
                                                  "be 1 to 36 letters, "
                                                  "digits, _ or -");
            }

            *app_id = value;
        }
    }

    return NGX_OK;
}


/* 1 to max of A-Z a-z 0-9 _ - */

static ngx_uint_t
ngx_http_iot_iotda_id_chars(ngx_str_t *s, size_t max)
{
    size_t  i;
    u_char  c;

    if (s->len == 0 || s->len > max) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* a device of the zone, under its read lock */

static ngx_uint_t
ngx_http_iot_iotda_match(ngx_iot_device_t *d, void *data)
{
    ngx_http_iot_iotda_filter_t  *f = data;

    u_char      text[NGX_IOT_ID_LEN + NGX_IOT_IDENT_MAX_DIGITS];
    u_char     *last;
    ngx_int_t   rc;
    ngx_str_t   name;

    static ngx_str_t  key = ngx_string("name");

    if (f->none
        || (f->cid && d->collection_id != f->cid)
        || !ngx_http_iot_iotda_reaches(f->who, d->collection_id, 0)
        || (f->has_start && d->created_at < f->start)
        || (f->has_end && d->created_at > f->end))
    {
        return 0;
    }

    if (f->node_id.len) {
        last = ngx_http_iot_iotda_node_id(text, d);

        if ((size_t) (last - text) != f->node_id.len
            || ngx_strncmp(text, f->node_id.data, f->node_id.len) != 0)
        {
            return 0;
        }
    }

    if (f->device_name.len) {
        rc = ngx_iot_tags_get(&d->tags, &key, f->tmp, &name);
        ngx_reset_pool(f->tmp);

        if (rc != NGX_OK || name.len != f->device_name.len
            || ngx_strncmp(name.data, f->device_name.data, name.len) != 0)
        {
            return 0;
        }
    }

    return 1;
}


/* node_id: the IMEI, else the IMSI, else the device's id */

static u_char *
ngx_http_iot_iotda_node_id(u_char *p, ngx_iot_device_t *d)
{
    if (d->imei.key) {
        return ngx_iot_ident_encode(p, d->imei.key);
    }

    if (d->imsi.key) {
        return ngx_iot_ident_encode(p, d->imsi.key);
    }

    return ngx_iot_id_encode(p, d->id.key);
}


/* GET /devices/{device_id} */

ngx_int_t
ngx_http_iot_iotda_device(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t            *json;
    uint64_t           id;
    ngx_iot_rc_e       rc;
    ngx_iot_device_t   d;

    if (ngx_iot_id_decode(ctx->seg[2].data, ctx->seg[2].len, &id) != NGX_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IOTDA.014000 the device does not exist");
    }

    rc = ngx_iot_device_get((ngx_cycle_t *) ngx_cycle, id, 0, r->pool, &d);

    if (rc == NGX_IOT_NOT_FOUND
        || (rc == NGX_IOT_OK
            && !ngx_http_iot_iotda_reaches(&ctx->who, d.collection_id, 0)))
    {
        /* a device the credentials do not reach does not exist for them */
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IOTDA.014000 the device does not exist");
    }

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the device cannot be read "
                                  "now");
    }

    json = ngx_http_iot_iotda_device_json(r, &d, 0);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, json);
}


/* a device; summary: as lists show it, without auth_info and times */

static json_t *
ngx_http_iot_iotda_device_json(ngx_http_request_t *r, ngx_iot_device_t *d,
    ngx_uint_t summary)
{
    u_char                 text[NGX_IOT_ID_LEN + NGX_IOT_IDENT_MAX_DIGITS
                                + sizeof("yyyyMMddTHHmmssZ")];
    u_char                *last;
    json_t                *o, *auth;
    ngx_str_t              name, description, barcode, app_name;
    ngx_uint_t             fail;
    ngx_iot_collection_t   c;

    static ngx_str_t  key = ngx_string("name");

    /* a device without a name has none: tags_get leaves name alone */
    ngx_str_null(&name);

    if (ngx_iot_tags_get(&d->tags, &key, r->pool, &name) == NGX_ERROR) {
        return NULL;
    }

    ngx_str_null(&app_name);

    if (ngx_iot_collection_get((ngx_cycle_t *) ngx_cycle, d->collection_id,
                               r->pool, &c)
        == NGX_IOT_OK
        && ngx_iot_tags_get(&c.tags, &key, r->pool, &app_name) == NGX_ERROR)
    {
        return NULL;
    }

    ngx_iot_device_about(d, &description, &barcode);

    o = json_object();
    auth = json_object();

    if (o == NULL || auth == NULL) {
        json_decref(o);
        json_decref(auth);
        return NULL;
    }

    fail = 0;

#define ngx_http_iot_iotda_set(obj, k, value)                                 \
    fail |= (json_object_set_new(obj, k, value) != 0)
#define ngx_http_iot_iotda_text(p, len)                                       \
    ngx_http_iot_iotda_string(p, len)

    last = ngx_iot_id_encode(text, d->collection_id);
    ngx_http_iot_iotda_set(o, "app_id",
                           ngx_http_iot_iotda_text(text, last - text));
    ngx_http_iot_iotda_set(o, "app_name",
                           ngx_http_iot_iotda_text(app_name.data,
                                                   app_name.len));

    last = ngx_iot_id_encode(text, d->id.key);
    ngx_http_iot_iotda_set(o, "device_id",
                           ngx_http_iot_iotda_text(text, last - text));

    last = ngx_http_iot_iotda_node_id(text, d);
    ngx_http_iot_iotda_set(o, "node_id",
                           ngx_http_iot_iotda_text(text, last - text));

    last = ngx_iot_id_encode(text, d->id.key);
    ngx_http_iot_iotda_set(o, "gateway_id",
                           ngx_http_iot_iotda_text(text, last - text));

    ngx_http_iot_iotda_set(o, "device_name",
                           ngx_http_iot_iotda_text(name.data, name.len));
    ngx_http_iot_iotda_set(o, "node_type", json_string("GATEWAY"));
    ngx_http_iot_iotda_set(o, "description",
                           ngx_http_iot_iotda_text(description.data,
                                                   description.len));
    ngx_http_iot_iotda_set(o, "fw_version", json_string(""));
    ngx_http_iot_iotda_set(o, "sw_version", json_string(""));
    ngx_http_iot_iotda_set(o, "device_sdk_version", json_string(""));

    ngx_http_iot_iotda_set(auth, "auth_type", json_string("SECRET"));
    ngx_http_iot_iotda_set(auth, "secure_access", json_true());
    ngx_http_iot_iotda_set(auth, "timeout", json_integer(0));
    if (summary) {
        json_decref(auth);

    } else {
        ngx_http_iot_iotda_set(o, "auth_info", auth);
    }

    ngx_http_iot_iotda_set(o, "product_id", json_string(""));
    ngx_http_iot_iotda_set(o, "product_name", json_string(""));

    /* attached now (it has an address), seen before, never seen */

    ngx_http_iot_iotda_set(o, "status",
                           json_string(d->net_family ? "ONLINE"
                                       : d->net_at ? "OFFLINE"
                                       : "INACTIVE"));

    ngx_http_iot_iotda_set(o, "tags", json_array());

    if (!summary) {
        last = ngx_http_iot_iotda_time(text, d->created_at);
        ngx_http_iot_iotda_set(o, "create_time",
                               ngx_http_iot_iotda_text(text, last - text));
        ngx_http_iot_iotda_set(o, "connection_status_update_time",
                               json_null());
        ngx_http_iot_iotda_set(o, "active_time", json_null());
        ngx_http_iot_iotda_set(o, "extension_info", json_object());
    }

#undef ngx_http_iot_iotda_set
#undef ngx_http_iot_iotda_text

    if (fail) {
        json_decref(o);
        return NULL;
    }

    return o;
}


/* a JSON string of text that may be empty (and have no memory) */

static json_t *
ngx_http_iot_iotda_string(u_char *p, size_t len)
{
    return json_stringn(len ? (char *) p : "", len);
}
