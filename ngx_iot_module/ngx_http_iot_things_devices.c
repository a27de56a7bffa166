
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
#include "ngx_iot_teams.h"


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
static ngx_int_t ngx_http_iot_things_sort(ngx_http_request_t *r,
    ngx_str_t *value, ngx_iot_store_sort_t *sort);
static u_char *ngx_http_iot_things_cursor_write(u_char *p,
    ngx_http_iot_things_filter_t *f, ngx_iot_store_pos_t *pos,
    ngx_uint_t before, ngx_uint_t inclusive);
static ngx_int_t ngx_http_iot_things_cursor_read(ngx_http_request_t *r,
    ngx_http_iot_things_filter_t *f, ngx_str_t *text);
static u_char *ngx_http_iot_things_put64(u_char *p, uint64_t v);
static u_char *ngx_http_iot_things_link(u_char *p,
    ngx_http_iot_things_filter_t *f, const char *name);
static uint64_t ngx_http_iot_things_get64(u_char *p);
static ngx_int_t ngx_http_iot_things_tag_name(ngx_iot_text_t *tags,
    ngx_str_t *name);
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
        return ngx_http_iot_reject(r);
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
    ngx_buf_t                *b;
    ngx_iot_rc_e              irc;
    ngx_cycle_t              *cycle;
    ngx_iot_wait_t           *wait;
    ngx_iot_device_t          d;
    ngx_iot_device_change_t   ch;

    cycle = (ngx_cycle_t *) ngx_cycle;

    if (ngx_http_iot_things_device_ref(r, &ctx->seg[1], &d) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    /* a device the token does not reach is one that does not exist */

    if (!ngx_http_iot_things_reaches(&ctx->who, d.collection_id,
                                     r->method != NGX_HTTP_GET))
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "device not found");
    }

    if (r->method == NGX_HTTP_GET) {
        if (ngx_http_iot_things_device_put(r, &d, NULL, &b) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_iot_send(r, NGX_HTTP_OK, b);
    }

    if (r->method == NGX_HTTP_PUT) {
        if (ngx_http_iot_things_fields(r, ctx->body, &ch) != NGX_OK) {
            return ngx_http_iot_reject(r);
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
    ngx_buf_t                      *b;
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

    if (ngx_http_iot_things_device_put(r, &ctx->wait.out.d, NULL, &b)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_send(r, o->status, b);
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
    uint64_t             team;
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
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "status must be ACTIVE or "
                                        "INACTIVE");
        }
    }

    /* clientId: a team of the caller's user, the project's */

    if (ngx_http_iot_things_text(r, body, "clientId", 1, 0, &s) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_iot_things_client(&ctx->who, s.data, s.len, &team)
        != NGX_OK)
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
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
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "projectId: no such project");
    }

    if (ngx_http_iot_things_client_of(r, team, ch->collection_id) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* deviceSpecificationId: a UUID, kept as it is */

    if (ngx_http_iot_things_text(r, body, "deviceSpecificationId", 1, 0, &s)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_iot_uuid_decode(s.data, s.len, ch->spec) != NGX_OK) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
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

    return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                (char *) msg);
}


/*
 * A device's JSON, written directly (no JSON object is built: a device
 * is the most asked-for answer): into b, NGX_AGAIN when it does not fit;
 * b NULL: into a buffer of its own, *out.
 */

ngx_int_t
ngx_http_iot_things_device_put(ngx_http_request_t *r, ngx_iot_device_t *d,
    ngx_buf_t *b, ngx_buf_t **out)
{
    u_char     *p;
    u_char      uuid[NGX_IOT_UUID_SIZE];
    size_t      size;
    ngx_str_t   name, description, barcode;
    ngx_uint_t  project;

    if (ngx_http_iot_things_name(r, d, &name) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_iot_device_about(d, &description, &barcode);

    project = (ngx_iot_collection_uuid((ngx_cycle_t *) ngx_cycle,
                                       d->collection_id, uuid)
               == NGX_IOT_OK);

    /* the longest it can be: every field, and the texts as escaped */

    size = sizeof("{\"id\":\"\",\"name\":\"\",\"status\":\"INACTIVE\","
                  "\"barcode\":\"\",\"description\":\"\",\"clientId\":\"\","
                  "\"projectId\":\"\",\"deviceSpecificationId\":\"\","
                  "\"createdAt\":\"\",\"createdBy\":\"principal/\","
                  "\"modifiedAt\":\"\",\"modifiedBy\":\"principal/\"}")
           + 7 * NGX_IOT_UUID_LEN + 2 * (NGX_HTTP_IOT_THINGS_TIME_LEN + 16)
           + name.len + ngx_escape_json(NULL, name.data, name.len)
           + description.len
           + ngx_escape_json(NULL, description.data, description.len)
           + barcode.len + ngx_escape_json(NULL, barcode.data, barcode.len);

    if (b == NULL) {
        b = ngx_create_temp_buf(r->pool, size);
        if (b == NULL) {
            return NGX_ERROR;
        }

        *out = b;

    } else if ((size_t) (b->end - b->last) < size) {
        return NGX_AGAIN;
    }

    p = ngx_cpymem(b->last, "{\"id\":\"", sizeof("{\"id\":\"") - 1);
    p = ngx_iot_uuid_encode(p, d->uuid);

    p = ngx_cpymem(p, "\",\"name\":\"", sizeof("\",\"name\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, name.data, name.len);
    *p++ = '"';

    if (d->status == NGX_IOT_STATUS_ACTIVE) {
        p = ngx_cpymem(p, ",\"status\":\"ACTIVE\"",
                       sizeof(",\"status\":\"ACTIVE\"") - 1);

    } else if (d->status != NGX_IOT_STATUS_NONE) {
        p = ngx_cpymem(p, ",\"status\":\"INACTIVE\"",
                       sizeof(",\"status\":\"INACTIVE\"") - 1);
    }

    if (barcode.len) {
        p = ngx_cpymem(p, ",\"barcode\":\"", sizeof(",\"barcode\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, barcode.data, barcode.len);
        *p++ = '"';
    }

    if (description.len) {
        p = ngx_cpymem(p, ",\"description\":\"",
                       sizeof(",\"description\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, description.data, description.len);
        *p++ = '"';
    }

    /* the client: the team of the device's collection */
    (void) ngx_http_iot_things_client_put(p, d->collection_id, &p);

    if (project) {
        p = ngx_cpymem(p, ",\"projectId\":\"",
                       sizeof(",\"projectId\":\"") - 1);
        p = ngx_iot_uuid_encode(p, uuid);
        *p++ = '"';
    }

    if (!ngx_iot_uuid_is_nil(d->spec)) {
        p = ngx_cpymem(p, ",\"deviceSpecificationId\":\"",
                       sizeof(",\"deviceSpecificationId\":\"") - 1);
        p = ngx_iot_uuid_encode(p, d->spec);
        *p++ = '"';
    }

    p = ngx_cpymem(p, ",\"createdAt\":\"", sizeof(",\"createdAt\":\"") - 1);
    p = ngx_http_iot_things_time(p, d->created_at);
    *p++ = '"';

    if (!ngx_iot_uuid_is_nil(d->created_by)) {
        p = ngx_cpymem(p, ",\"createdBy\":\"principal/",
                       sizeof(",\"createdBy\":\"principal/") - 1);
        p = ngx_iot_uuid_encode(p, d->created_by);
        *p++ = '"';
    }

    p = ngx_cpymem(p, ",\"modifiedAt\":\"", sizeof(",\"modifiedAt\":\"") - 1);
    p = ngx_http_iot_things_time(p, d->modified_at);
    *p++ = '"';

    if (!ngx_iot_uuid_is_nil(d->modified_by)) {
        p = ngx_cpymem(p, ",\"modifiedBy\":\"principal/",
                       sizeof(",\"modifiedBy\":\"principal/") - 1);
        p = ngx_iot_uuid_encode(p, d->modified_by);
        *p++ = '"';
    }

    *p++ = '}';

    b->last = p;

    return NGX_OK;
}


/*
 * The name tag read from the tags' text without parsing it into objects:
 * the text is a compact JSON object of strings, as the registry keeps it.
 * NGX_OK: the name, pointing into the text (a name with no escapes);
 * NGX_DECLINED: no name tag; NGX_AGAIN: anything else (escapes, another
 * form, the key twice): read it with jansson.
 */

static ngx_int_t
ngx_http_iot_things_tag_name(ngx_iot_text_t *tags, ngx_str_t *name)
{
    u_char      *p, *last, *k, *v;
    size_t       klen, vlen;
    ngx_uint_t   found, escaped;

    if (tags->len == 0) {
        return NGX_DECLINED;
    }

    p = tags->data;
    last = p + tags->len;
    found = 0;

    if (*p++ != '{') {
        return NGX_AGAIN;
    }

    if (p < last && *p == '}') {
        return (p + 1 == last) ? NGX_DECLINED : NGX_AGAIN;
    }

    for ( ;; ) {

        /* "key":"value", each string up to its unescaped quote */

        if (p == last || *p++ != '"') {
            return NGX_AGAIN;
        }

        for (k = p; p < last && *p != '"'; p++) {
            if (*p == '\\') {
                return NGX_AGAIN;
            }
        }

        klen = p - k;

        if (last - p < 3 || p[1] != ':' || p[2] != '"') {
            return NGX_AGAIN;
        }

        p += 3;
        escaped = 0;

        for (v = p; p < last && *p != '"'; p++) {
            if (*p == '\\') {
                escaped = 1;

                if (++p == last) {
                    return NGX_AGAIN;
                }
            }
        }

        if (p == last) {
            return NGX_AGAIN;
        }

        vlen = p - v;
        p++;

        if (klen == 4 && ngx_strncmp(k, "name", 4) == 0) {
            if (found || escaped) {
                return NGX_AGAIN;
            }

            found = 1;
            name->data = v;
            name->len = vlen;
        }

        if (p == last) {
            return NGX_AGAIN;
        }

        if (*p == '}') {
            return (p + 1 == last) ? (found ? NGX_OK : NGX_DECLINED)
                                   : NGX_AGAIN;
        }

        if (*p++ != ',') {
            return NGX_AGAIN;
        }
    }
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

    rc = ngx_http_iot_things_tag_name(&d->tags, name);

    if (rc == NGX_AGAIN) {
        rc = ngx_iot_tags_get(&d->tags, &key, r->pool, name);
    }

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
    if (ngx_http_iot_list_new(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->list->limit = NGX_HTTP_IOT_THINGS_LIMIT;
    ctx->list->cursor.kind = NGX_IOT_STORE_DEVICES;
    ctx->list->cursor.scope = 0;
    ctx->list->row = ngx_http_iot_things_row;
    ngx_str_set(&ctx->list->head, "{\"items\":[");

    if (ngx_http_iot_things_list_args(r, ctx, f) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (!ngx_http_iot_things_scope(ctx, &ctx->list->cursor.scope)) {
        f->none = 1;
    }

    return ngx_http_iot_things_keyed(r, ctx, f);
}


/*
 * The collection a list is of: the token's one collection (0: it reaches
 * all, or several, which the rows are checked against).  0 when the token
 * reaches none.
 */

ngx_uint_t
ngx_http_iot_things_scope(ngx_http_iot_ctx_t *ctx, uint64_t *scope)
{
    ngx_iot_principal_t  *who;

    who = &ctx->who;

    if (who->all) {
        return 1;
    }

    if (who->ncollections == 0) {
        return 0;
    }

    if (who->ncollections == 1) {
        if (*scope && *scope != who->collections[0]) {
            return 0;
        }

        *scope = who->collections[0];
    }

    return 1;
}


/* a keyed scan's handler: does a row the caller may see come? */

typedef struct {
    ngx_http_request_t            *request;
    ngx_http_iot_list_t           *list;
    ngx_uint_t                     want;      /* this many rows */
    ngx_uint_t                     seen;
    ngx_iot_store_pos_t           *pos;       /* of the want-th row */
    ngx_iot_store_cursor_t        *cursor;
} ngx_http_iot_things_probe_t;


static ngx_int_t
ngx_http_iot_things_probe_row(void *row, void *data)
{
    ngx_http_iot_things_probe_t  *pr = data;

    ngx_int_t  rc;

    rc = pr->list->row(pr->request, pr->list, row, NULL);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_OK;
    }

    if (pr->seen++ == pr->want) {
        return NGX_DONE;
    }

    if (pr->seen == pr->want && pr->pos) {
        ngx_iot_store_pos_copy(pr->pos, &pr->cursor->row);
    }

    return NGX_OK;
}


/*
 * Scans cur for want visible rows and one more: NGX_OK and pr->seen (at
 * most want + 1), the want-th row's position in pr->pos; NGX_ERROR.
 */

static ngx_int_t
ngx_http_iot_things_probe(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    ngx_iot_store_cursor_t *cur, ngx_http_iot_things_probe_t *pr)
{
    ngx_int_t         rc;
    ngx_iot_store_t  *store;

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);
    if (store == NULL
        || ngx_iot_store_usable(store, r->connection->log) != NGX_OK)
    {
        return NGX_ERROR;
    }

    pr->request = r;
    pr->list = list;
    pr->cursor = cur;

    do {
        rc = ngx_iot_store_list(store, cur, 256, ngx_http_iot_things_probe_row,
                                pr, r->connection->log);
    } while (rc == NGX_OK && !cur->done);

    return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


/*
 * A page of devices or groups in the order asked (f->sort), from the
 * cursor given: after a row (the next page), or before one (the previous
 * page: found backwards, then sent in order up to that row).  Whether a
 * page lies before it (and, for a previous page, after it) is found
 * before the answer starts, so the links are only there when there is a
 * page to go to.
 */

ngx_int_t
ngx_http_iot_things_keyed(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_http_iot_things_filter_t *f)
{
    ngx_iot_store_pos_t          *y;
    ngx_http_iot_list_t          *list;
    ngx_iot_store_cursor_t        probe, *cur;
    ngx_http_iot_things_probe_t   pr;

    list = ctx->list;
    cur = &list->cursor;

    cur->keyed = 1;
    cur->sort = f->sort;
    cur->filter = &f->store;

    list->last = ngx_palloc(r->pool, sizeof(ngx_iot_store_pos_t));
    if (list->last == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (f->none) {
        cur->done = 1;
        return ngx_http_iot_list_start(r, list);
    }

    if (f->pos == NULL) {
        return ngx_http_iot_list_start(r, list);
    }

    /* the rows before the cursor's, backwards */

    ngx_memzero(&pr, sizeof(ngx_http_iot_things_probe_t));

    probe = *cur;
    probe.reverse = 1;
    probe.started = 1;
    ngx_iot_store_pos_copy(&probe.at, f->pos);

    if (!f->before) {
        /* the page after the cursor: is there one before it? */

        probe.at_inclusive = !f->inclusive;
        pr.want = 0;

        if (ngx_http_iot_things_probe(r, list, &probe, &pr) != NGX_OK) {
            goto unreadable;
        }

        f->prev = (pr.seen > 0);
        f->prev_at = f->pos;
        f->prev_inclusive = !f->inclusive;

        cur->started = 1;
        cur->at_inclusive = f->inclusive;
        ngx_iot_store_pos_copy(&cur->at, f->pos);

        return ngx_http_iot_list_start(r, list);
    }

    /* the page before the cursor: where it starts, and one row more */

    y = ngx_palloc(r->pool, sizeof(ngx_iot_store_pos_t));
    if (y == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    probe.at_inclusive = f->inclusive;
    pr.want = list->limit;
    pr.pos = y;

    if (ngx_http_iot_things_probe(r, list, &probe, &pr) != NGX_OK) {
        goto unreadable;
    }

    f->prev = (pr.seen > list->limit);
    f->prev_at = y;
    f->prev_inclusive = 0;

    if (pr.seen < list->limit) {
        /* fewer rows than a page: the first of them is the first row */
        y = NULL;
    }

    /* and after it? */

    ngx_memzero(&pr, sizeof(ngx_http_iot_things_probe_t));

    probe = *cur;
    probe.started = 1;
    probe.at_inclusive = !f->inclusive;
    ngx_iot_store_pos_copy(&probe.at, f->pos);

    if (ngx_http_iot_things_probe(r, list, &probe, &pr) != NGX_OK) {
        goto unreadable;
    }

    f->next = (pr.seen > 0);

    /* the page: from that row, in order, up to the cursor's */

    if (y) {
        cur->started = 1;
        cur->at_inclusive = 1;
        ngx_iot_store_pos_copy(&cur->at, y);
    }

    cur->bounded = 1;
    cur->end_inclusive = f->inclusive;
    ngx_iot_store_pos_copy(&cur->end, f->pos);

    return ngx_http_iot_list_start(r, list);

unreadable:

    return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                              "the store cannot be read now, "
                              "try again later");
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
    ngx_str_t    key, value, cursor;
    ngx_uint_t   i;

    static ngx_str_t  times[] = {
        ngx_string("createdBefore"),
        ngx_string("createdSince"),
        ngx_string("modifiedBefore"),
        ngx_string("modifiedSince")
    };

    if (r->args.len > NGX_HTTP_IOT_THINGS_ARGS_MAX
                      + NGX_HTTP_IOT_THINGS_CURSOR_MAX
                      + sizeof("&cursor=") - 1)
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
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

    cursor.data = NULL;
    cursor.len = 0;

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

        /* a key without "=": an empty value, never a NULL pointer */
        ngx_str_set(&value, "");

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
            /* the links have cursors of their own; a bare "cursor": none */
            if (eq) {
                cursor = value;
            }

            p++;
            continue;
        }

        /* the argument as it came, for the next link */

        for (start = key.data; start < p; start++) {
            if (*start <= 0x20 || *start >= 0x7f || *start == '"'
                || *start == '\\')
            {
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
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
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                            "limit must be a number "
                                            "from 1 to 1000");
            }

            ctx->list->limit = n;

        } else if (ngx_http_iot_things_is("q")
                   && f->what != NGX_HTTP_IOT_THINGS_LIST_LINKS)
        {
            if (value.len == 0) {
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                            "q must not be empty");
            }

            if (ngx_strlchr(value.data, value.data + value.len, '\0')) {
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                            "q must not hold NUL "
                                            "characters");
            }

            f->q = value;

        } else if (ngx_http_iot_things_is("barcode")
                   && f->what == NGX_HTTP_IOT_THINGS_LIST_DEVICES)
        {
            if (ngx_strlchr(value.data, value.data + value.len, '\0')) {
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                            "barcode must not hold "
                                            "NUL characters");
            }

            f->barcode = value;

        } else if (ngx_http_iot_things_is("projectId")
                   && f->what == NGX_HTTP_IOT_THINGS_LIST_GROUPS)
        {
            if (ngx_http_iot_things_project(r, value.data, value.len,
                                            &ctx->list->cursor.scope)
                != NGX_OK
                || !ngx_http_iot_things_reaches(&ctx->who,
                                                ctx->list->cursor.scope, 0))
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
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                            "clientId must be a UUID");
            }

            if (ngx_http_iot_things_client(&ctx->who, value.data, value.len,
                                           &f->team)
                != NGX_OK)
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
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                            "deviceSpecificationId "
                                            "must be a UUID");
            }

        } else if (ngx_http_iot_things_is("sort")) {
            if (ngx_http_iot_things_sort(r, &value, &f->sort) != NGX_OK) {
                return NGX_DECLINED;
            }

            if (f->what == NGX_HTTP_IOT_THINGS_LIST_LINKS
                && (f->sort.n > 1
                    || (f->sort.n && f->sort.field[0]
                                     != NGX_IOT_SORT_CREATED)))
            {
                /* a link has one time and no name */
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                            "sort: memberships sort by "
                                            "createdAt only");
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
                    return ngx_http_iot_invalid(r,
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

    if (f->args.len > NGX_HTTP_IOT_THINGS_ARGS_MAX) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "the query is too long");
    }

    /* what the store checks */

    f->store.q = f->q;
    f->store.barcode = f->barcode;
    f->store.specs = f->specs.elts;
    f->store.nspecs = f->specs.nelts;
    f->store.times_set = f->set;
    ngx_memcpy(f->store.times, f->times, sizeof(f->times));

    if (cursor.data) {
        return ngx_http_iot_things_cursor_read(r, f, &cursor);
    }

    return NGX_OK;
}


/* sort: createdAt, modifiedAt, name, comma separated, "-": descending */

static ngx_int_t
ngx_http_iot_things_sort(ngx_http_request_t *r, ngx_str_t *value,
    ngx_iot_store_sort_t *sort)
{
    u_char      *p, *last, *start;
    ngx_str_t    name;
    ngx_uint_t   i, field, desc;

    ngx_memzero(sort, sizeof(ngx_iot_store_sort_t));

    if (value->len == 0) {
        return NGX_OK;
    }

    p = value->data;
    last = p + value->len;

    for ( ;; ) {
        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        name.data = start;
        name.len = p - start;
        desc = 0;

        if (name.len && name.data[0] == '-') {
            desc = 1;
            name.data++;
            name.len--;
        }

        if (name.len == sizeof("createdAt") - 1
            && ngx_strncmp(name.data, "createdAt", name.len) == 0)
        {
            field = NGX_IOT_SORT_CREATED;

        } else if (name.len == sizeof("modifiedAt") - 1
                   && ngx_strncmp(name.data, "modifiedAt", name.len) == 0)
        {
            field = NGX_IOT_SORT_MODIFIED;

        } else if (name.len == sizeof("name") - 1
                   && ngx_strncmp(name.data, "name", name.len) == 0)
        {
            field = NGX_IOT_SORT_NAME;

        } else {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "sort: each field must be "
                                        "createdAt, modifiedAt or "
                                        "name, with \"-\" before "
                                        "it for descending");
        }

        for (i = 0; i < sort->n; i++) {
            if (sort->field[i] == field) {
                return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                            "sort: a field is given "
                                            "twice");
            }
        }

        sort->field[sort->n] = (u_char) field;
        sort->desc[sort->n] = (u_char) desc;
        sort->n++;

        if (p == last) {
            return NGX_OK;
        }

        p++;
    }
}


/*
 * A list's cursor: base64url of a version (1), flags (before, inclusive,
 * the list), the sort (its length, then a field and a descending bit per
 * byte), the id, createdAt, modifiedAt (8 bytes each, big-endian), the
 * name's length (2 bytes) and the name.  It is the position of a row
 * (which may be gone since): the page after it, or before it.
 */

#define NGX_HTTP_IOT_THINGS_CURSOR_V       1
#define NGX_HTTP_IOT_THINGS_CURSOR_BEFORE  0x01
#define NGX_HTTP_IOT_THINGS_CURSOR_INCL    0x02


static u_char *
ngx_http_iot_things_cursor_write(u_char *p, ngx_http_iot_things_filter_t *f,
    ngx_iot_store_pos_t *pos, ngx_uint_t before, ngx_uint_t inclusive)
{
    u_char      *b;
    ngx_str_t    src, dst;
    ngx_uint_t   i, name;
    u_char       buf[NGX_HTTP_IOT_THINGS_CURSOR_HEAD
                     + NGX_IOT_STORE_NAME_MAX];

    b = buf;
    *b++ = NGX_HTTP_IOT_THINGS_CURSOR_V;
    *b++ = (before ? NGX_HTTP_IOT_THINGS_CURSOR_BEFORE : 0)
           | (inclusive ? NGX_HTTP_IOT_THINGS_CURSOR_INCL : 0)
           | (u_char) f->list;
    *b++ = (u_char) f->sort.n;

    name = 0;

    for (i = 0; i < NGX_IOT_SORT_MAX; i++) {
        *b++ = (i < f->sort.n)
               ? (u_char) (f->sort.field[i] | (f->sort.desc[i] << 7)) : 0;

        if (i < f->sort.n && f->sort.field[i] == NGX_IOT_SORT_NAME) {
            name = 1;
        }
    }

    b = ngx_http_iot_things_put64(b, pos->id);
    b = ngx_http_iot_things_put64(b, pos->created_at);
    b = ngx_http_iot_things_put64(b, pos->modified_at);

    i = name ? pos->name_len : 0;
    *b++ = (u_char) (i >> 8);
    *b++ = (u_char) i;
    b = ngx_cpymem(b, pos->name, i);

    src.data = buf;
    src.len = b - buf;
    dst.data = p;

    ngx_encode_base64url(&dst, &src);

    return p + dst.len;
}


static ngx_int_t
ngx_http_iot_things_cursor_read(ngx_http_request_t *r,
    ngx_http_iot_things_filter_t *f, ngx_str_t *text)
{
    u_char               *b;
    size_t                len;
    ngx_str_t             dst;
    ngx_uint_t            i, field, flags;
    ngx_iot_store_pos_t  *pos;
    u_char                buf[NGX_HTTP_IOT_THINGS_CURSOR_HEAD
                              + NGX_IOT_STORE_NAME_MAX + 4];

    if (text->len == 0 || text->len > NGX_HTTP_IOT_THINGS_CURSOR_MAX) {
        goto invalid;
    }

    dst.data = buf;

    if (ngx_decode_base64url(&dst, text) != NGX_OK
        || dst.len < NGX_HTTP_IOT_THINGS_CURSOR_HEAD)
    {
        goto invalid;
    }

    b = buf;

    if (*b++ != NGX_HTTP_IOT_THINGS_CURSOR_V) {
        goto invalid;
    }

    flags = *b++;

    if ((flags & ~(NGX_HTTP_IOT_THINGS_CURSOR_BEFORE
                   | NGX_HTTP_IOT_THINGS_CURSOR_INCL
                   | NGX_HTTP_IOT_THINGS_CURSOR_LISTS))
        || (flags & NGX_HTTP_IOT_THINGS_CURSOR_LISTS) != f->list)
    {
        goto invalid;
    }

    /* the sort it was made for */

    if (*b++ != f->sort.n) {
        goto other;
    }

    for (i = 0; i < NGX_IOT_SORT_MAX; i++) {
        field = (i < f->sort.n)
                ? (ngx_uint_t) (f->sort.field[i] | (f->sort.desc[i] << 7))
                : 0;

        if (*b++ != field) {
            goto other;
        }
    }

    pos = ngx_palloc(r->pool, sizeof(ngx_iot_store_pos_t));
    if (pos == NULL) {
        return NGX_ERROR;
    }

    pos->id = ngx_http_iot_things_get64(b);
    pos->created_at = ngx_http_iot_things_get64(b + 8);
    pos->modified_at = ngx_http_iot_things_get64(b + 16);
    b += 24;

    len = ((size_t) b[0] << 8) | b[1];
    b += 2;

    if (len > NGX_IOT_STORE_NAME_MAX
        || (size_t) (buf + dst.len - b) != len
        || pos->id > (uint64_t) INT64_MAX
        || pos->created_at > (uint64_t) INT64_MAX
        || pos->modified_at > (uint64_t) INT64_MAX)
    {
        goto invalid;
    }

    pos->name_len = len;
    ngx_memcpy(pos->name, b, len);

    f->pos = pos;
    f->before = (flags & NGX_HTTP_IOT_THINGS_CURSOR_BEFORE) ? 1 : 0;
    f->inclusive = (flags & NGX_HTTP_IOT_THINGS_CURSOR_INCL) ? 1 : 0;

    return NGX_OK;

invalid:

    return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                "cursor is not valid");

other:

    return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                "cursor is of another sort: follow "
                                "the links of the same query");
}


static u_char *
ngx_http_iot_things_put64(u_char *p, uint64_t v)
{
    ngx_int_t  i;

    for (i = 7; i >= 0; i--) {
        *p++ = (u_char) (v >> (i * 8));
    }

    return p;
}


static uint64_t
ngx_http_iot_things_get64(u_char *p)
{
    uint64_t    v;
    ngx_uint_t  i;

    v = 0;

    for (i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }

    return v;
}


static ngx_int_t
ngx_http_iot_things_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    void *row, ngx_buf_t *b)
{
    ngx_iot_device_t  *d = row;

    ngx_http_iot_ctx_t            *ctx;
    ngx_http_iot_things_filter_t  *f;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    f = ctx->answer_data;

    /* the filters are the store's (a keyed scan) */

    if (f->none || !ngx_http_iot_things_reaches(&ctx->who, d->collection_id, 0)
        || (f->team
            && ngx_iot_collection_team((ngx_cycle_t *) ngx_cycle,
                                       d->collection_id) != f->team))
    {
        return NGX_DECLINED;
    }

    if (b == NULL) {
        return NGX_OK;
    }

    return ngx_http_iot_things_device_put(r, d, b, NULL);
}


/*
 * lists: {"items":[ rows ],"next":"?<the same query>&cursor=...",
 * "previous":"?...&cursor=..."}, each link only when there is a page
 */

u_char *
ngx_http_iot_things_list_tail(u_char *p, ngx_http_iot_list_t *list,
    ngx_uint_t more)
{
    ngx_http_iot_ctx_t            *ctx;
    ngx_http_iot_things_filter_t  *f;

    *p++ = ']';

    ctx = ngx_http_get_module_ctx(list->request, ngx_http_iot_module);
    f = ctx->answer_data;

    if (!list->cursor.keyed) {
        /* the links of a device or a group: by id, a next page only */

        if (more) {
            p = ngx_http_iot_things_link(p, f, "next");
            p = ngx_http_iot_things_cursor(p, list);
            *p++ = '"';
        }

        *p++ = '}';

        return p;
    }

    if (more || f->next) {
        p = ngx_http_iot_things_link(p, f, "next");

        if (list->sent) {
            p = ngx_http_iot_things_cursor_write(p, f, list->last, 0, 0);

        } else {
            /* an empty previous page: the rows from its cursor's on */
            p = ngx_http_iot_things_cursor_write(p, f, f->pos, 0,
                                                 !f->inclusive);
        }

        *p++ = '"';
    }

    if (f->prev) {
        p = ngx_http_iot_things_link(p, f, "previous");
        p = ngx_http_iot_things_cursor_write(p, f, f->prev_at, 1,
                                             f->prev_inclusive);
        *p++ = '"';
    }

    *p++ = '}';

    return p;
}


/* ,"name":"?<the query>&cursor= */

static u_char *
ngx_http_iot_things_link(u_char *p, ngx_http_iot_things_filter_t *f,
    const char *name)
{
    p = ngx_sprintf(p, ",\"%s\":\"?", name);

    if (f->args.len) {
        p = ngx_cpymem(p, f->args.data, f->args.len);
        *p++ = '&';
    }

    return ngx_cpymem(p, "cursor=", sizeof("cursor=") - 1);
}


u_char *
ngx_http_iot_things_cursor(u_char *p, ngx_http_iot_list_t *list)
{
    return ngx_iot_id_encode(p, (uint64_t) list->sent_id);
}
