
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect: /collections, /collections/{cid}, its devices,
 * and the tags of both.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_collections.h"
#include "ngx_iot_teams.h"


/* how each write is answered */

typedef struct {
    ngx_uint_t                 device;
    ngx_uint_t                 one;
    ngx_str_t                  name;
    const char                *what;
} ngx_http_iot_tags_answer_t;


static ngx_int_t ngx_http_iot_tags_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static void ngx_http_iot_collections_by(ngx_http_request_t *r,
    ngx_iot_device_change_t *ch);


static ngx_http_iot_collections_outcome_t  ngx_http_iot_collection_created =
    { NGX_HTTP_CREATED, "collection not found",
      NGX_HTTP_IOT_OUT_COLLECTION, 0 };
static ngx_http_iot_collections_outcome_t  ngx_http_iot_collection_changed =
    { NGX_HTTP_OK, "collection not found",
      NGX_HTTP_IOT_OUT_COLLECTION, 0 };
static ngx_http_iot_collections_outcome_t  ngx_http_iot_collection_deleted =
    { NGX_HTTP_NO_CONTENT, "collection not found",
      NGX_HTTP_IOT_OUT_COLLECTION, 0 };
static ngx_http_iot_collections_outcome_t  ngx_http_iot_device_created =
    { NGX_HTTP_CREATED, "collection not found", NGX_HTTP_IOT_OUT_DEVICE, 0 };
static ngx_http_iot_collections_outcome_t  ngx_http_iot_device_changed =
    { NGX_HTTP_OK, "device not found", NGX_HTTP_IOT_OUT_DEVICE, 0 };
static ngx_http_iot_collections_outcome_t  ngx_http_iot_device_deleted =
    { NGX_HTTP_NO_CONTENT, "device not found", NGX_HTTP_IOT_OUT_DEVICE, 0 };


static ngx_int_t
ngx_http_iot_collection_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    void *row, ngx_buf_t *b)
{
    ngx_iot_collection_t  *c = row;

    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    if (!ngx_http_iot_collections_reaches(&ctx->who, c->id.key)) {
        return NGX_DECLINED;
    }

    if (b == NULL) {
        return NGX_OK;
    }

    if ((size_t) (b->end - b->last)
        < ngx_http_iot_collections_collection_len(c))
    {
        return NGX_AGAIN;
    }

    b->last = ngx_http_iot_collections_collection_write(b->last, c);

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

    mask = ngx_http_iot_collections_field(body, "fieldMask");
    if (mask == NULL) {
        return NGX_OK;
    }

    if (!json_is_object(mask)) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "fieldMask must be an object "
                                    "of booleans");
    }

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        v = ngx_http_iot_collections_field(mask, fields[i].name);

        if (v == NULL) {
            continue;
        }

        if (!json_is_boolean(v)) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "fieldMask values must be "
                                        "booleans");
        }

        ch->mask_set |= fields[i].bit;

        if (json_is_true(v)) {
            ch->mask_value |= fields[i].bit;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_collection_fields(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_collection_change_t *ch)
{
    u_char      uuid[NGX_IOT_UUID_SIZE];
    json_t     *v, *body;
    uint64_t    team;
    ngx_int_t   rc;

    body = ctx->body;

    ngx_memzero(ch, sizeof(ngx_iot_collection_change_t));

    rc = ngx_http_iot_collections_tags_field(r, body, &ch->tags);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_iot_mask_field(r, body, ch);
    if (rc != NGX_OK) {
        return rc;
    }

    v = ngx_http_iot_collections_field(body, "teamId");

    if (v) {
        /* a team the caller is a member of (ngx_iot_teams.h) */
        rc = json_is_string(v)
             ? ngx_iot_team_resolve((ngx_cycle_t *) ngx_cycle, &ctx->who,
                                    (u_char *) json_string_value(v),
                                    json_string_length(v), &team, uuid)
             : NGX_DECLINED;

        if (rc == NGX_ERROR) {
            return ngx_http_iot_invalid(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "the store cannot be read");
        }

        if (rc != NGX_OK) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "teamId: no such team");
        }

        ch->team_id = team;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_iot_collections_list(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_iot_rc_e                 irc;
    ngx_iot_wait_t              *wait;
    ngx_iot_collection_change_t  ch;

    if (r->method & NGX_HTTP_IOT_M_GET) {
        if (ngx_http_iot_list_new(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->list->cursor.kind = NGX_IOT_STORE_COLLECTIONS;
        ctx->list->row = ngx_http_iot_collection_row;
        ngx_str_set(&ctx->list->head, "{\"collections\":[");

        return ngx_http_iot_collections_list_page(r, ctx->list);
    }

    rc = ngx_http_iot_collection_fields(r, ctx, &ch);
    if (rc != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    /* without a teamId: the caller's own team */
    if (ch.team_id == 0) {
        ch.team_id = ctx->who.team_id;
    }

    wait = ngx_http_iot_collections_waiter(r,
                                           &ngx_http_iot_collection_created);

    irc = ngx_iot_collection_create((ngx_cycle_t *) ngx_cycle, &ch, r->pool,
                                    &wait->out.c, r->connection->log, wait);

    return ngx_http_iot_answer(r, irc);
}


ngx_int_t
ngx_http_iot_collections_item(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    uint64_t                     id;
    ngx_int_t                    rc;
    ngx_iot_rc_e                 irc;
    ngx_cycle_t                 *cycle;
    ngx_iot_wait_t              *wait;
    ngx_iot_collection_t         c;
    ngx_iot_collection_change_t  ch;

    cycle = (ngx_cycle_t *) ngx_cycle;

    if (ngx_http_iot_collections_path_id(&ctx->seg[1], &id) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "collection not found");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        irc = ngx_iot_collection_get(cycle, id, r->pool, &c);

    } else if (r->method == NGX_HTTP_PATCH) {
        rc = ngx_http_iot_collection_fields(r, ctx, &ch);
        if (rc != NGX_OK) {
            return ngx_http_iot_reject(r);
        }

        wait = ngx_http_iot_collections_waiter(r,
                                           &ngx_http_iot_collection_changed);

        irc = ngx_iot_collection_update(cycle, id, &ch, r->pool,
                                        &wait->out.c, r->connection->log,
                                        wait);

        return ngx_http_iot_answer(r, irc);

    } else {
        wait = ngx_http_iot_collections_waiter(r,
                                           &ngx_http_iot_collection_deleted);

        irc = ngx_iot_collection_delete(cycle, id, r->connection->log, wait);

        return ngx_http_iot_answer(r, irc);
    }

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, irc,
                                                 "collection not found");
    }

    return ngx_http_iot_collections_send_collection(r, NGX_HTTP_OK, &c);
}


static ngx_int_t
ngx_http_iot_device_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    void *row, ngx_buf_t *b)
{
    ngx_iot_device_t  *d = row;

    if (b == NULL) {
        return NGX_OK;
    }

    if ((size_t) (b->end - b->last) < ngx_http_iot_collections_device_len(d)) {
        return NGX_AGAIN;
    }

    b->last = ngx_http_iot_collections_device_write(b->last, d,
                  ngx_iot_collection_mask((ngx_cycle_t *) ngx_cycle,
                                          d->collection_id));

    return NGX_OK;
}


/* who changes a device: the principal of the request's token */

static void
ngx_http_iot_collections_by(ngx_http_request_t *r,
    ngx_iot_device_change_t *ch)
{
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    ngx_memcpy(ch->by, ctx->who.id, NGX_IOT_UUID_SIZE);
}


static ngx_int_t
ngx_http_iot_device_fields(ngx_http_request_t *r, json_t *body,
    ngx_iot_device_change_t *ch, ngx_uint_t create)
{
    uint64_t   *key;
    ngx_int_t   rc;
    ngx_uint_t  i;

    static struct {
        const char  *name;
        const char  *bad;
        const char  *missing;
        size_t       offset;
    } idents[] = {
        { "imsi", "imsi must be a string of 1 to 16 digits",
          "imsi is required", offsetof(ngx_iot_device_change_t, imsi) },
        { "imei", "imei must be a string of 1 to 16 digits",
          "imei is required", offsetof(ngx_iot_device_change_t, imei) }
    };

    ngx_memzero(ch, sizeof(ngx_iot_device_change_t));
    ngx_http_iot_collections_by(r, ch);

    for (i = 0; i < sizeof(idents) / sizeof(idents[0]); i++) {
        key = (uint64_t *) ((u_char *) ch + idents[i].offset);

        rc = ngx_http_iot_collections_ident_field(body, idents[i].name, key);

        if (rc == NGX_ERROR) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        idents[i].bad);
        }

        if (rc == NGX_DECLINED && create) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        idents[i].missing);
        }
    }

    return ngx_http_iot_collections_tags_field(r, body, &ch->tags);
}


ngx_int_t
ngx_http_iot_collections_devices(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    u_char                   *p;
    uint64_t                  cid;
    ngx_int_t                 rc;
    ngx_iot_rc_e              irc;
    ngx_iot_wait_t           *wait;
    ngx_iot_collection_t      c;
    ngx_iot_device_change_t   ch;

    if (ngx_http_iot_collections_path_id(&ctx->seg[1], &cid) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "collection not found");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        irc = ngx_iot_collection_get((ngx_cycle_t *) ngx_cycle, cid, r->pool,
                                     &c);
        if (irc != NGX_IOT_OK) {
            return ngx_http_iot_collections_rc_error(r, irc,
                                                     "collection not found");
        }

        p = ngx_pnalloc(r->pool, sizeof("{\"collectionId\":\"\",\"devices\":[")
                                 + NGX_IOT_ID_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_iot_list_new(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->list->head.data = p;

        p = ngx_cpymem(p, "{\"collectionId\":\"",
                       sizeof("{\"collectionId\":\"") - 1);
        p = ngx_iot_id_encode(p, cid);
        p = ngx_cpymem(p, "\",\"devices\":[", sizeof("\",\"devices\":[") - 1);

        ctx->list->head.len = p - ctx->list->head.data;
        ctx->list->cursor.kind = NGX_IOT_STORE_DEVICES;
        ctx->list->cursor.scope = cid;
        ctx->list->row = ngx_http_iot_device_row;

        return ngx_http_iot_collections_list_page(r, ctx->list);
    }

    rc = ngx_http_iot_device_fields(r, ctx->body, &ch, 1);
    if (rc != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    ch.collection_id = cid;

    wait = ngx_http_iot_collections_waiter(r, &ngx_http_iot_device_created);

    irc = ngx_iot_device_create((ngx_cycle_t *) ngx_cycle, &ch, r->pool,
                                &wait->out.d, r->connection->log, wait);

    return ngx_http_iot_answer(r, irc);
}


ngx_int_t
ngx_http_iot_collections_device(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    json_t                   *v;
    uint64_t                  cid, did, to;
    ngx_int_t                 rc;
    ngx_iot_rc_e              irc;
    ngx_cycle_t              *cycle;
    ngx_iot_wait_t           *wait;
    ngx_iot_device_t          d;
    ngx_iot_device_change_t   ch;

    cycle = (ngx_cycle_t *) ngx_cycle;

    if (ngx_http_iot_collections_path_id(&ctx->seg[1], &cid) != NGX_OK
        || ngx_http_iot_collections_path_id(&ctx->seg[3], &did) != NGX_OK)
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

        v = ngx_http_iot_collections_field(ctx->body, "collectionId");

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

                if (!ngx_http_iot_collections_reaches(&ctx->who, to)) {
                    return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                              "the API token does not reach "
                                              "the target collection");
                }

                ch.collection_id = to;
            }
        }

        wait = ngx_http_iot_collections_waiter(r,
                                               &ngx_http_iot_device_changed);

        irc = ngx_iot_device_update(cycle, did, cid, &ch, r->pool,
                                    &wait->out.d, r->connection->log, wait);

        return ngx_http_iot_answer(r, irc);

    } else {
        wait = ngx_http_iot_collections_waiter(r,
                                               &ngx_http_iot_device_deleted);

        irc = ngx_iot_device_delete(cycle, did, cid, r->connection->log,
                                    wait);

        return ngx_http_iot_answer(r, irc);
    }

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, irc, "device not found");
    }

    return ngx_http_iot_collections_send_device(r, NGX_HTTP_OK, &d);
}


ngx_int_t
ngx_http_iot_collections_tags(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
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
    ngx_iot_wait_t               *wait;
    ngx_iot_text_t               *tags;
    ngx_iot_device_t              d;
    ngx_iot_collection_t          c;
    ngx_iot_device_change_t       dch;
    ngx_iot_collection_change_t   cch;
    ngx_http_iot_tags_answer_t   *t;

    cycle = (ngx_cycle_t *) ngx_cycle;

    device = ctx->route->arg & NGX_HTTP_IOT_ARG_DEVICE;
    one = ctx->route->arg & NGX_HTTP_IOT_ARG_ONE;

    what = device ? "device not found" : "collection not found";

    did = 0;

    if (ngx_http_iot_collections_path_id(&ctx->seg[1], &cid) != NGX_OK
        || (device
            && ngx_http_iot_collections_path_id(&ctx->seg[3], &did)
               != NGX_OK))
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

        /* a tag name is a JSON object's key: never stored if not UTF-8 */

        v = json_stringn((char *) name.data, name.len);

        if (v == NULL) {
            if (r->method == NGX_HTTP_PATCH) {
                return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                          "tag names must be UTF-8");
            }

            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                      "tag not found");
        }

        json_decref(v);
    }

    /* the current tags, to read or to check that a tag exists */

    irc = device ? ngx_iot_device_get(cycle, did, cid, r->pool, &d)
                 : ngx_iot_collection_get(cycle, cid, r->pool, &c);

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, irc, what);
    }

    tags = device ? &d.tags : &c.tags;

    if (r->method & NGX_HTTP_IOT_M_GET) {
        if (!one) {
            return ngx_http_iot_collections_send_tags(r, tags);
        }

        rc = ngx_iot_tags_get(tags, &name, r->pool, &value);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                      "tag not found");
        }

        return ngx_http_iot_collections_send_value(r, &value);
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

    t = ngx_palloc(r->pool, sizeof(ngx_http_iot_tags_answer_t));
    if (t == NULL) {
        json_decref(patch);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->device = device;
    t->one = one;
    t->name = name;
    t->what = what;

    wait = ngx_http_iot_waiter(r, ngx_http_iot_tags_answer, t);

    if (device) {
        ngx_memzero(&dch, sizeof(ngx_iot_device_change_t));
        ngx_http_iot_collections_by(r, &dch);
        dch.tags = patch;
        irc = ngx_iot_device_update(cycle, did, cid, &dch, r->pool,
                                    &wait->out.d, r->connection->log, wait);

    } else {
        ngx_memzero(&cch, sizeof(ngx_iot_collection_change_t));
        cch.tags = patch;
        irc = ngx_iot_collection_update(cycle, cid, &cch, r->pool,
                                        &wait->out.c, r->connection->log,
                                        wait);
    }

    json_decref(patch);

    return ngx_http_iot_answer(r, irc);
}


/* the answer to a change of tags: the tags, the tag, or nothing */

static ngx_int_t
ngx_http_iot_tags_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    ngx_int_t                    n;
    ngx_str_t                    value;
    ngx_iot_text_t              *tags;
    ngx_http_iot_ctx_t          *ctx;
    ngx_http_iot_tags_answer_t  *t;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    t = ctx->answer_data;

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, rc, t->what);
    }

    if (r->method == NGX_HTTP_DELETE) {
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    tags = t->device ? &ctx->wait.out.d.tags : &ctx->wait.out.c.tags;

    if (!t->one) {
        return ngx_http_iot_collections_send_tags(r, tags);
    }

    n = ngx_iot_tags_get(tags, &t->name, r->pool, &value);

    if (n == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (n == NGX_DECLINED) {
        ngx_str_null(&value);
    }

    return ngx_http_iot_collections_send_value(r, &value);
}

