
/*
 * Copyright (C) nginx-iot authors
 *
 * The things dialect's /devices: list, create, get, PUT (a full update),
 * DELETE, and the JSON of a device.  A device here is a device of the one
 * registry: its name is the collections dialect's tags.name, its project
 * its collection, its client the installation's team.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_things.h"


/* how a write is answered */
typedef struct {
    ngx_uint_t                 status;
} ngx_http_iot_things_outcome_t;


static ngx_http_iot_things_outcome_t  ngx_http_iot_things_created =
    { NGX_HTTP_CREATED };
static ngx_http_iot_things_outcome_t  ngx_http_iot_things_changed =
    { NGX_HTTP_OK };
static ngx_http_iot_things_outcome_t  ngx_http_iot_things_deleted =
    { NGX_HTTP_NO_CONTENT };


static ngx_int_t ngx_http_iot_things_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static ngx_int_t ngx_http_iot_things_fields(ngx_http_request_t *r,
    json_t *body, ngx_iot_device_change_t *ch);
static void ngx_http_iot_things_json_cleanup(void *data);
static ngx_int_t ngx_http_iot_things_list(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_things_row(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, void *row, ngx_buf_t *b);
static ngx_uint_t ngx_http_iot_things_match(ngx_http_request_t *r,
    ngx_http_iot_things_filter_t *f, ngx_iot_device_t *d);
static ngx_int_t ngx_http_iot_things_name(ngx_http_request_t *r,
    ngx_iot_device_t *d, ngx_str_t *name);


/* GET /devices, POST /devices */

ngx_int_t
ngx_http_iot_things_devices(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_iot_rc_e              irc;
    ngx_iot_wait_t           *wait;
    ngx_iot_device_change_t   ch;

    if (r->method == NGX_HTTP_GET) {
        return ngx_http_iot_things_list(r, ctx);
    }

    if (ngx_http_iot_things_fields(r, ctx->body, &ch) != NGX_OK) {
        return ngx_http_iot_things_reject(r);
    }

    wait = ngx_http_iot_waiter(r, ngx_http_iot_things_answer,
                               &ngx_http_iot_things_created);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    irc = ngx_iot_device_create((ngx_cycle_t *) ngx_cycle, &ch, r->pool,
                                &wait->out.d, r->connection->log, wait);

    return ngx_http_iot_answer(r, irc);
}


/* GET, PUT, DELETE /devices/{deviceId} */

ngx_int_t
ngx_http_iot_things_device(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t                   *json;
    ngx_iot_rc_e              irc;
    ngx_cycle_t              *cycle;
    ngx_iot_wait_t           *wait;
    ngx_iot_device_t          d;
    ngx_iot_device_change_t   ch;

    cycle = (ngx_cycle_t *) ngx_cycle;

    if (ngx_http_iot_things_device_ref(r, &ctx->seg[1], &d) != NGX_OK) {
        return ngx_http_iot_things_reject(r);
    }

    /* a device the token does not reach is one that does not exist */

    if (!ngx_http_iot_things_reaches(&ctx->who, d.collection_id,
                                     r->method != NGX_HTTP_GET))
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "device not found");
    }

    if (r->method == NGX_HTTP_GET) {
        json = ngx_http_iot_things_device_json(r, &d);
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_iot_things_send_json(r, NGX_HTTP_OK, json);
    }

    if (r->method == NGX_HTTP_PUT) {
        if (ngx_http_iot_things_fields(r, ctx->body, &ch) != NGX_OK) {
            return ngx_http_iot_things_reject(r);
        }

        wait = ngx_http_iot_waiter(r, ngx_http_iot_things_answer,
                                   &ngx_http_iot_things_changed);
        if (wait == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        irc = ngx_iot_device_update(cycle, d.id.key, d.collection_id, &ch,
                                    r->pool, &wait->out.d,
                                    r->connection->log, wait);

        return ngx_http_iot_answer(r, irc);
    }

    wait = ngx_http_iot_waiter(r, ngx_http_iot_things_answer,
                               &ngx_http_iot_things_deleted);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    irc = ngx_iot_device_delete(cycle, d.id.key, d.collection_id,
                                r->connection->log, wait);

    return ngx_http_iot_answer(r, irc);
}


/* the answer to a write, once it is durable (or failed) */

static ngx_int_t
ngx_http_iot_things_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    json_t                         *json;
    ngx_http_iot_ctx_t             *ctx;
    ngx_http_iot_things_outcome_t  *o;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    o = ctx->answer_data;

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_things_rc_error(r, rc, "device not found");
    }

    if (o->status == NGX_HTTP_NO_CONTENT) {
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    json = ngx_http_iot_things_device_json(r, &ctx->wait.out.d);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_things_send_json(r, o->status, json);
}


/*
 * The body of POST and PUT (a full update: what it leaves out is
 * cleared; read-only fields and unknown ones are ignored).
 */

static ngx_int_t
ngx_http_iot_things_fields(ngx_http_request_t *r, json_t *body,
    ngx_iot_device_change_t *ch)
{
    json_t              *v, *tags;
    ngx_str_t            name, s;
    ngx_pool_cleanup_t  *cln;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    ngx_memzero(ch, sizeof(ngx_iot_device_change_t));
    ngx_memcpy(ch->by, ctx->who.id, NGX_IOT_UUID_SIZE);
    ch->things = 1;

    if (ngx_http_iot_things_text(r, body, "name", 1, 1, &name) != NGX_OK
        || ngx_http_iot_things_text(r, body, "description", 0, 1,
                                    &ch->description)
           != NGX_OK
        || ngx_http_iot_things_text(r, body, "barcode", 0, 0, &ch->barcode)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /* status */

    v = json_object_get(body, "status");

    if (v && !json_is_null(v)) {
        if (json_is_string(v)
            && ngx_strcmp(json_string_value(v), "ACTIVE") == 0)
        {
            ch->status = NGX_IOT_STATUS_ACTIVE;

        } else if (json_is_string(v)
                   && ngx_strcmp(json_string_value(v), "INACTIVE") == 0)
        {
            ch->status = NGX_IOT_STATUS_INACTIVE;

        } else {
            return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                               "status must be ACTIVE or "
                                               "INACTIVE");
        }
    }

    /* clientId: the installation's team */

    if (ngx_http_iot_things_text(r, body, "clientId", 1, 0, &s) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_iot_things_client(s.data, s.len) != NGX_OK) {
        return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                           "clientId: no such client");
    }

    /* projectId: a collection the token may change */

    if (ngx_http_iot_things_text(r, body, "projectId", 1, 0, &s) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_iot_things_project(r, s.data, s.len, &ch->collection_id)
        != NGX_OK
        || !ngx_http_iot_things_reaches(&ctx->who, ch->collection_id, 1))
    {
        return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                           "projectId: no such project");
    }

    /* deviceSpecificationId: a UUID, kept as it is */

    if (ngx_http_iot_things_text(r, body, "deviceSpecificationId", 1, 0, &s)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_iot_uuid_decode(s.data, s.len, ch->spec) != NGX_OK) {
        return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                           "deviceSpecificationId must be "
                                           "a UUID");
    }

    /* the name is the collections dialect's tags.name */

    tags = json_object();
    if (tags == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        json_decref(tags);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_iot_things_json_cleanup;
    cln->data = tags;

    if (json_object_set_new(tags, "name",
                            json_stringn((char *) name.data, name.len))
        != 0)
    {
        return NGX_ERROR;
    }

    ch->tags = tags;

    return NGX_OK;
}


static void
ngx_http_iot_things_json_cleanup(void *data)
{
    json_decref(data);
}


/*
 * A text field: a string of at most 255 characters; required: present
 * (null counts as absent); nonblank: not only white space (an empty
 * optional one counts as absent).
 */

ngx_int_t
ngx_http_iot_things_text(ngx_http_request_t *r, json_t *body,
    const char *name, ngx_uint_t required, ngx_uint_t nonblank,
    ngx_str_t *out)
{
    u_char      *p, *msg;
    size_t       i, n;
    json_t      *v;
    const char  *why;

    out->data = NULL;
    out->len = 0;

    v = json_object_get(body, name);

    if (v == NULL || json_is_null(v)) {
        if (!required) {
            return NGX_OK;
        }

        why = "is required";
        goto invalid;
    }

    if (!json_is_string(v)) {
        why = "must be a string";
        goto invalid;
    }

    p = (u_char *) json_string_value(v);
    out->len = json_string_length(v);
    out->data = p;

    if (out->len == 0 && !required) {
        return NGX_OK;
    }

    /* characters: UTF-8 sequences (jansson took valid UTF-8 only) */

    n = 0;

    for (i = 0; i < out->len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            n++;
        }

        if (p[i] == '\0') {
            why = "must not hold NUL characters";
            goto invalid;
        }
    }

    if (n > NGX_HTTP_IOT_THINGS_TEXT_MAX || (required && n == 0)) {
        why = "must be 1 to 255 characters long";
        goto invalid;
    }

    if (nonblank) {
        for (i = 0; i < out->len; i++) {
            if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r'
                && p[i] != '\f' && p[i] != '\v')
            {
                break;
            }
        }

        if (i == out->len) {
            why = "must not be blank";
            goto invalid;
        }
    }

    return NGX_OK;

invalid:

    n = ngx_strlen(name) + ngx_strlen(why) + 2;

    msg = ngx_pnalloc(r->pool, n);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(msg, "%s %s%Z", name, why);

    return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                       (char *) msg);
}


/* a device's JSON */

json_t *
ngx_http_iot_things_device_json(ngx_http_request_t *r, ngx_iot_device_t *d)
{
    u_char       text[NGX_IOT_UUID_LEN + sizeof("principal/")];
    u_char       uuid[NGX_IOT_UUID_SIZE];
    u_char      *last;
    json_t      *o;
    ngx_str_t    name, description, barcode;
    ngx_uint_t   fail;

    if (ngx_http_iot_things_name(r, d, &name) != NGX_OK) {
        return NULL;
    }

    ngx_iot_device_about(d, &description, &barcode);

    o = json_object();
    if (o == NULL) {
        return NULL;
    }

    fail = 0;

#define ngx_http_iot_things_set(key, value)                                   \
    fail |= (json_object_set_new(o, key, value) != 0)

    last = ngx_iot_uuid_encode(text, d->uuid);
    ngx_http_iot_things_set("id", json_stringn((char *) text, last - text));

    ngx_http_iot_things_set("name",
                            json_stringn((char *) name.data, name.len));

    if (d->status != NGX_IOT_STATUS_NONE) {
        ngx_http_iot_things_set("status",
                                json_string(d->status == NGX_IOT_STATUS_ACTIVE
                                            ? "ACTIVE" : "INACTIVE"));
    }

    if (barcode.len) {
        ngx_http_iot_things_set("barcode",
                                json_stringn((char *) barcode.data,
                                             barcode.len));
    }

    if (description.len) {
        ngx_http_iot_things_set("description",
                                json_stringn((char *) description.data,
                                             description.len));
    }

    last = ngx_iot_uuid_encode(text,
                               ngx_iot_team_uuid((ngx_cycle_t *) ngx_cycle));
    ngx_http_iot_things_set("clientId",
                            json_stringn((char *) text, last - text));

    if (ngx_iot_collection_uuid((ngx_cycle_t *) ngx_cycle, d->collection_id,
                                uuid)
        == NGX_IOT_OK)
    {
        last = ngx_iot_uuid_encode(text, uuid);
        ngx_http_iot_things_set("projectId",
                                json_stringn((char *) text, last - text));
    }

    if (!ngx_iot_uuid_is_nil(d->spec)) {
        last = ngx_iot_uuid_encode(text, d->spec);
        ngx_http_iot_things_set("deviceSpecificationId",
                                json_stringn((char *) text, last - text));
    }

    last = ngx_http_iot_things_time(text, d->created_at);
    ngx_http_iot_things_set("createdAt",
                            json_stringn((char *) text, last - text));

    if (!ngx_iot_uuid_is_nil(d->created_by)) {
        last = ngx_cpymem(text, "principal/", sizeof("principal/") - 1);
        last = ngx_iot_uuid_encode(last, d->created_by);
        ngx_http_iot_things_set("createdBy",
                                json_stringn((char *) text, last - text));
    }

    last = ngx_http_iot_things_time(text, d->modified_at);
    ngx_http_iot_things_set("modifiedAt",
                            json_stringn((char *) text, last - text));

    if (!ngx_iot_uuid_is_nil(d->modified_by)) {
        last = ngx_cpymem(text, "principal/", sizeof("principal/") - 1);
        last = ngx_iot_uuid_encode(last, d->modified_by);
        ngx_http_iot_things_set("modifiedBy",
                                json_stringn((char *) text, last - text));
    }

#undef ngx_http_iot_things_set

    if (fail) {
        json_decref(o);
        return NULL;
    }

    return o;
}


/*
 * A device's name: its tags.name, or, for a device made without one in
 * the collections dialect, its id there (a name is never empty here).
 */

static ngx_int_t
ngx_http_iot_things_name(ngx_http_request_t *r, ngx_iot_device_t *d,
    ngx_str_t *name)
{
    ngx_int_t  rc;

    static ngx_str_t  key = ngx_string("name");

    rc = ngx_iot_tags_get(&d->tags, &key, r->pool, name);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK && name->len) {
        return NGX_OK;
    }

    name->data = ngx_pnalloc(r->pool, NGX_IOT_ID_LEN);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    name->len = ngx_iot_id_encode(name->data, d->id.key) - name->data;

    return NGX_OK;
}


/*
 * GET /devices: the devices the token reaches, in the registry's order,
 * filtered; a page of limit (default 50, at most 1000) and the link to
 * the next page when there is one.
 */

static ngx_int_t
ngx_http_iot_things_list(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_http_iot_things_filter_t  *f;

    f = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_things_filter_t));
    if (f == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f->what = NGX_HTTP_IOT_THINGS_LIST_DEVICES;

    ctx->answer_data = f;
    ctx->list.limit = NGX_HTTP_IOT_THINGS_LIMIT;
    ctx->list.cursor.kind = NGX_IOT_STORE_DEVICES;
    ctx->list.cursor.scope = 0;
    ctx->list.row = ngx_http_iot_things_row;
    ngx_str_set(&ctx->list.head, "{\"items\":[");

    if (ngx_http_iot_things_list_args(r, ctx, f) != NGX_OK) {
        return ngx_http_iot_things_reject(r);
    }

    return ngx_http_iot_list_start(r, &ctx->list);
}


/*
 * The query arguments of a list (f->what says which), each checked;
 * unknown ones are ignored.
 */

ngx_int_t
ngx_http_iot_things_list_args(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_http_iot_things_filter_t *f)
{
    u_char      *p, *last, *start, *eq, *dst, *kept, *spec;
    u_char       uuid[NGX_IOT_UUID_SIZE];
    size_t       klen;
    uint64_t     id;
    ngx_int_t    n;
    ngx_str_t    key, value;
    ngx_uint_t   i;

    static ngx_str_t  times[] = {
        ngx_string("createdBefore"),
        ngx_string("createdSince"),
        ngx_string("modifiedBefore"),
        ngx_string("modifiedSince")
    };

    if (r->args.len > NGX_HTTP_IOT_THINGS_ARGS_MAX) {
        return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                           "the query is too long");
    }

    if (ngx_array_init(&f->specs, r->pool, 1, NGX_IOT_UUID_SIZE) != NGX_OK) {
        return NGX_ERROR;
    }

    kept = ngx_pnalloc(r->pool, r->args.len + 1);
    if (kept == NULL) {
        return NGX_ERROR;
    }

    f->args.data = kept;

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        start = p;

        while (p < last && *p != '&') {
            p++;
        }

        key.data = start;
        eq = ngx_strlchr(start, p, '=');
        klen = (eq ? eq : p) - start;
        key.len = klen;

        value.len = 0;
        value.data = NULL;

        if (eq) {
            value.data = ngx_pnalloc(r->pool, p - eq);
            if (value.data == NULL) {
                return NGX_ERROR;
            }

            /* a form's "+" is a space; "%2B" is a "+" */

            for (i = 0; i < (size_t) (p - (eq + 1)); i++) {
                value.data[i] = (eq[1 + i] == '+') ? ' ' : eq[1 + i];
            }

            start = value.data;
            dst = value.data;
            ngx_unescape_uri(&dst, &start, i, NGX_UNESCAPE_URI);
            value.len = dst - value.data;
        }

#define ngx_http_iot_things_is(k)                                             \
    (key.len == sizeof(k) - 1 && ngx_strncmp(key.data, k, key.len) == 0)

        if (ngx_http_iot_things_is("cursor")) {
            if (ngx_iot_id_decode(value.data, value.len, &id) != NGX_OK) {
                return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                   "cursor is not valid");
            }

            ctx->list.cursor.id = id;
            ctx->list.cursor.started = 1;

            /* the next link has a cursor of its own */
            p++;
            continue;
        }

        /* the argument as it came, for the next link */

        for (start = key.data; start < p; start++) {
            if (*start <= 0x20 || *start >= 0x7f || *start == '"'
                || *start == '\\')
            {
                return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                   "the query has characters "
                                                   "that must be "
                                                   "percent-encoded");
            }
        }

        if (kept != f->args.data) {
            *kept++ = '&';
        }

        kept = ngx_cpymem(kept, key.data, p - key.data);

        if (ngx_http_iot_things_is("limit")) {
            n = ngx_atoi(value.data, value.len);

            if (n == NGX_ERROR || n < 1
                || n > NGX_HTTP_IOT_THINGS_LIMIT_MAX)
            {
                return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                   "limit must be a number "
                                                   "from 1 to 1000");
            }

            ctx->list.limit = n;

        } else if (ngx_http_iot_things_is("q")
                   && f->what != NGX_HTTP_IOT_THINGS_LIST_LINKS)
        {
            if (value.len == 0) {
                return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                   "q must not be empty");
            }

            f->q = value;

        } else if (ngx_http_iot_things_is("barcode")
                   && f->what == NGX_HTTP_IOT_THINGS_LIST_DEVICES)
        {
            f->barcode = value;

        } else if (ngx_http_iot_things_is("projectId")
                   && f->what == NGX_HTTP_IOT_THINGS_LIST_GROUPS)
        {
            if (ngx_http_iot_things_project(r, value.data, value.len,
                                            &ctx->list.cursor.scope)
                != NGX_OK
                || !ngx_http_iot_things_reaches(&ctx->who,
                                                ctx->list.cursor.scope, 0))
            {
                /* an unknown project, or one not reached, has no groups */
                f->none = 1;
            }

        } else if (ngx_http_iot_things_is("clientId")
                   && f->what != NGX_HTTP_IOT_THINGS_LIST_LINKS)
        {
            if (ngx_iot_uuid_decode(value.data, value.len, uuid) != NGX_OK
                && ngx_iot_id_decode(value.data, value.len, &id) != NGX_OK)
            {
                return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                   "clientId must be a UUID");
            }

            if (ngx_http_iot_things_client(value.data, value.len) != NGX_OK)
            {
                f->none = 1;
            }

        } else if (ngx_http_iot_things_is("deviceSpecificationId")
                   && f->what == NGX_HTTP_IOT_THINGS_LIST_DEVICES)
        {
            spec = ngx_array_push(&f->specs);
            if (spec == NULL) {
                return NGX_ERROR;
            }

            if (ngx_iot_uuid_decode(value.data, value.len, spec) != NGX_OK) {
                return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                   "deviceSpecificationId "
                                                   "must be a UUID");
            }

        } else if (ngx_http_iot_things_is("sort")) {
            if (value.len) {
                return ngx_http_iot_things_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                   "sort is not served yet: "
                                                   "devices come in the "
                                                   "registry's order");
            }

        } else {
            for (i = 0;
                 i < (f->what == NGX_HTTP_IOT_THINGS_LIST_LINKS
                      ? 2 : sizeof(times) / sizeof(times[0]));
                 i++)
            {
                if (key.len != times[i].len
                    || ngx_strncmp(key.data, times[i].data, key.len) != 0)
                {
                    continue;
                }

                f->set |= 1 << i;

                if (ngx_http_iot_things_parse_time(value.data, value.len,
                                                   &f->times[i])
                    != NGX_OK)
                {
                    return ngx_http_iot_things_invalid(r,
                               NGX_HTTP_BAD_REQUEST,
                               "createdBefore, createdSince, modifiedBefore "
                               "and modifiedSince must be ISO 8601 "
                               "date-times");
                }
            }
        }

#undef ngx_http_iot_things_is

        p++;
    }

    f->args.len = kept - f->args.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_things_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    void *row, ngx_buf_t *b)
{
    ngx_iot_device_t  *d = row;

    size_t                         size;
    json_t                        *json;
    ngx_http_iot_ctx_t            *ctx;
    ngx_http_iot_things_filter_t  *f;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    f = ctx->answer_data;

    if (!ngx_http_iot_things_reaches(&ctx->who, d->collection_id, 0)
        || !ngx_http_iot_things_match(r, f, d))
    {
        return NGX_DECLINED;
    }

    if (b == NULL) {
        return NGX_OK;
    }

    json = ngx_http_iot_things_device_json(r, d);
    if (json == NULL) {
        return NGX_ERROR;
    }

    size = json_dumpb(json, NULL, 0, JSON_COMPACT);

    if ((size_t) (b->end - b->last) < size) {
        json_decref(json);
        return NGX_AGAIN;
    }

    b->last += json_dumpb(json, (char *) b->last, size, JSON_COMPACT);
    json_decref(json);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_iot_things_match(ngx_http_request_t *r,
    ngx_http_iot_things_filter_t *f, ngx_iot_device_t *d)
{
    u_char      *spec;
    ngx_str_t    name, description, barcode;
    ngx_uint_t   i;

    if (f->none) {
        return 0;
    }

    /* createdBefore, createdSince, modifiedBefore, modifiedSince */

    if (((f->set & 1) && d->created_at >= f->times[0])
        || ((f->set & 2) && d->created_at < f->times[1])
        || ((f->set & 4) && d->modified_at >= f->times[2])
        || ((f->set & 8) && d->modified_at < f->times[3]))
    {
        return 0;
    }

    ngx_iot_device_about(d, &description, &barcode);

    if (f->barcode.len
        && !ngx_http_iot_things_contains(barcode.data, barcode.len,
                                         &f->barcode))
    {
        return 0;
    }

    if (f->specs.nelts) {
        spec = f->specs.elts;

        for (i = 0; i < f->specs.nelts; i++) {
            if (ngx_memcmp(spec + i * NGX_IOT_UUID_SIZE, d->spec,
                           NGX_IOT_UUID_SIZE) == 0)
            {
                break;
            }
        }

        if (i == f->specs.nelts) {
            return 0;
        }
    }

    if (f->q.len) {
        if (ngx_http_iot_things_contains(description.data, description.len,
                                         &f->q))
        {
            return 1;
        }

        if (ngx_http_iot_things_name(r, d, &name) != NGX_OK
            || !ngx_http_iot_things_contains(name.data, name.len, &f->q))
        {
            return 0;
        }
    }

    return 1;
}


/* does s hold part, ignoring the case of ASCII letters? */

ngx_uint_t
ngx_http_iot_things_contains(u_char *s, size_t len, ngx_str_t *part)
{
    size_t  i;

    if (part->len > len) {
        return 0;
    }

    for (i = 0; i + part->len <= len; i++) {
        if (ngx_strncasecmp(s + i, part->data, part->len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* lists: {"items":[ rows ],"next":"?<the same query>&cursor=..."} */

u_char *
ngx_http_iot_things_list_tail(u_char *p, ngx_http_iot_list_t *list,
    ngx_uint_t more)
{
    ngx_http_iot_ctx_t            *ctx;
    ngx_http_iot_things_filter_t  *f;

    *p++ = ']';

    if (more) {
        ctx = ngx_iot_container_of(list, ngx_http_iot_ctx_t, list);
        f = ctx->answer_data;

        p = ngx_cpymem(p, ",\"next\":\"?", sizeof(",\"next\":\"?") - 1);

        if (f->args.len) {
            p = ngx_cpymem(p, f->args.data, f->args.len);
            *p++ = '&';
        }

        p = ngx_cpymem(p, "cursor=", sizeof("cursor=") - 1);
        p = ngx_http_iot_things_cursor(p, list);
        *p++ = '"';
    }

    *p++ = '}';

    return p;
}


u_char *
ngx_http_iot_things_cursor(u_char *p, ngx_http_iot_list_t *list)
{
    return ngx_iot_id_encode(p, (uint64_t) list->sent_id);
}
