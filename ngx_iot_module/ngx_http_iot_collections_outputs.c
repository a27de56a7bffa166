
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect: /collections/{cid}/outputs, one output, its
 * tags, logs and status (docs/outputs.md).  Outputs are few per
 * collection: answers are built whole.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_collections.h"
#include "ngx_iot_outputs.h"


typedef struct {
    ngx_iot_output_t           row;
    ngx_uint_t                 status;
    ngx_uint_t                 tag;       /* answer a tag's value */
    ngx_str_t                  name;
} ngx_http_iot_output_answer_t;


static json_t *ngx_http_iot_output_json(ngx_iot_output_t *o,
    ngx_pool_t *pool);
static ngx_int_t ngx_http_iot_output_send_json(ngx_http_request_t *r,
    ngx_uint_t status, json_t *j);
static ngx_int_t ngx_http_iot_output_invalid(ngx_http_request_t *r,
    const char *info);
static const char *ngx_http_iot_output_ids(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, uint64_t *cid, uint64_t *oid);
static ngx_int_t ngx_http_iot_output_answered(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static ngx_int_t ngx_http_iot_output_write(ngx_http_request_t *r,
    ngx_http_iot_output_answer_t *a, ngx_uint_t fresh);


static json_t *
ngx_http_iot_output_json(ngx_iot_output_t *o, ngx_pool_t *pool)
{
    u_char     cid[NGX_IOT_ID_LEN], oid[NGX_IOT_ID_LEN];
    json_t    *j, *config, *tags;
    ngx_str_t  shown;

    if (ngx_iot_output_config_shown(&o->config, pool, &shown) != NGX_OK) {
        return NULL;
    }

    config = json_loadb((char *) shown.data, shown.len, 0, NULL);
    tags = o->tags.len ? json_loadb((char *) o->tags.data, o->tags.len, 0,
                                    NULL)
                       : json_object();

    if (config == NULL || tags == NULL) {
        json_decref(config);
        json_decref(tags);
        return NULL;
    }

    (void) ngx_iot_id_encode(cid, o->collection_id);
    (void) ngx_iot_id_encode(oid, o->id);

    j = json_pack("{s:s%,s:s%,s:s,s:o,s:b,s:o}",
                  "outputId", oid, (size_t) NGX_IOT_ID_LEN,
                  "collectionId", cid, (size_t) NGX_IOT_ID_LEN,
                  "type", ngx_iot_output_type_name(o->type),
                  "config", config,
                  "enabled", (int) o->enabled,
                  "tags", tags);

    return j;
}


static ngx_int_t
ngx_http_iot_output_send_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *j)
{
    char       *text;
    size_t      len;
    ngx_buf_t  *b;

    if (j == NULL) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "the store cannot be read");
    }

    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text, len);
    free(text);

    return ngx_http_iot_send(r, status, b);
}


/* the real system's words for a config that is not valid */

static ngx_int_t
ngx_http_iot_output_invalid(ngx_http_request_t *r, const char *info)
{
    return ngx_http_iot_output_send_json(r, NGX_HTTP_BAD_REQUEST,
               json_pack("{s:i,s:s,s:s}", "status", NGX_HTTP_BAD_REQUEST,
                         "message", "Output configuration is invalid",
                         "additionalInfo", info));
}


static const char *
ngx_http_iot_output_ids(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    uint64_t *cid, uint64_t *oid)
{
    if (ngx_http_iot_collections_path_id(&ctx->seg[1], cid) != NGX_OK
        || !ngx_iot_collection_exists((ngx_cycle_t *) ngx_cycle, *cid))
    {
        return "collection not found";
    }

    if (oid && ngx_http_iot_collections_path_id(&ctx->seg[3], oid)
               != NGX_OK)
    {
        return "output not found";
    }

    return NULL;
}


typedef struct {
    json_t                    *list;
    ngx_pool_t                *pool;
} ngx_http_iot_output_list_t;


static ngx_int_t
ngx_http_iot_output_item(ngx_iot_output_t *o, void *data)
{
    ngx_http_iot_output_list_t  *l = data;

    json_t  *j;

    j = ngx_http_iot_output_json(o, l->pool);

    if (j == NULL || json_array_append_new(l->list, j) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* /collections/{cid}/outputs: GET, POST */

ngx_int_t
ngx_http_iot_collections_outputs(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    json_t                        *v, *tags;
    uint64_t                       cid;
    ngx_int_t                      rc;
    ngx_str_t                      name, config, text;
    const char                    *err;
    ngx_iot_rc_e                   irc;
    ngx_iot_text_t                 none;
    ngx_http_iot_output_list_t     l;
    ngx_http_iot_output_answer_t  *a;

    err = ngx_http_iot_output_ids(r, ctx, &cid, NULL);
    if (err) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, err);
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        l.list = json_array();
        l.pool = r->pool;

        if (l.list == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        irc = ngx_iot_output_list((ngx_cycle_t *) ngx_cycle, cid,
                                  ngx_http_iot_output_item, &l,
                                  r->connection->log);

        if (irc != NGX_IOT_OK) {
            json_decref(l.list);
            return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "the store cannot be read");
        }

        return ngx_http_iot_output_send_json(r, NGX_HTTP_OK,
                   json_pack("{s:o}", "outputs", l.list));
    }

    a = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_output_answer_t));
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    a->status = NGX_HTTP_CREATED;
    a->row.collection_id = cid;
    a->row.enabled = 1;

    v = ngx_http_iot_collections_field(ctx->body, "type");

    if (v == NULL || !json_is_string(v)) {
        return ngx_http_iot_output_invalid(r, "type must be webhook, udp, "
                                              "mqtt or ifttt");
    }

    name.data = (u_char *) json_string_value(v);
    name.len = json_string_length(v);

    a->row.type = ngx_iot_output_type(&name);

    rc = ngx_iot_output_config(a->row.type,
                               ngx_http_iot_collections_field(ctx->body,
                                                              "config"),
                               NULL, r->pool, &config, &err);
    if (rc == NGX_DECLINED) {
        return ngx_http_iot_output_invalid(r, err);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    a->row.config = config;

    v = ngx_http_iot_collections_field(ctx->body, "enabled");

    if (v) {
        if (!json_is_boolean(v)) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "enabled must be a boolean");
        }

        a->row.enabled = json_is_true(v);
    }

    if (ngx_http_iot_collections_tags_field(r, ctx->body, &tags) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    ngx_str_set(&a->row.tags, "{}");

    if (tags) {
        none.data = NULL;
        none.len = 0;

        irc = ngx_iot_tags_merge(&none, tags, r->pool, &text);
        if (irc != NGX_IOT_OK) {
            return ngx_http_iot_collections_rc_error(r, irc, NULL);
        }

        a->row.tags = text;
    }

    return ngx_http_iot_output_write(r, a, 1);
}


static ngx_int_t
ngx_http_iot_output_write(ngx_http_request_t *r,
    ngx_http_iot_output_answer_t *a, ngx_uint_t fresh)
{
    ngx_iot_rc_e     irc;
    ngx_iot_wait_t  *wait;

    wait = ngx_http_iot_waiter(r, ngx_http_iot_output_answered, a);

    if (fresh) {
        irc = ngx_iot_output_create((ngx_cycle_t *) ngx_cycle, &a->row,
                                    r->connection->log, wait);

    } else {
        irc = ngx_iot_output_update((ngx_cycle_t *) ngx_cycle, &a->row,
                                    r->connection->log, wait);
    }

    return ngx_http_iot_answer(r, irc);
}


static ngx_int_t
ngx_http_iot_output_answered(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    ngx_str_t                      value;
    ngx_iot_text_t                 tags;
    ngx_http_iot_ctx_t            *ctx;
    ngx_http_iot_output_answer_t  *a;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    a = ctx->answer_data;

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, rc, "output not found");
    }

    if (a->status == NGX_HTTP_NO_CONTENT) {
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    if (a->tag == 1) {
        tags.data = a->row.tags.data;
        tags.len = a->row.tags.len;

        return ngx_http_iot_collections_send_tags(r, &tags);
    }

    if (a->tag == 2) {
        tags.data = a->row.tags.data;
        tags.len = a->row.tags.len;

        if (ngx_iot_tags_get(&tags, &a->name, r->pool, &value) != NGX_OK) {
            ngx_str_null(&value);
        }

        return ngx_http_iot_collections_send_value(r, &value);
    }

    return ngx_http_iot_output_send_json(r, a->status,
               ngx_http_iot_output_json(&a->row, r->pool));
}


/* /collections/{cid}/outputs/{oid}: GET, PATCH, DELETE */

ngx_int_t
ngx_http_iot_collections_output(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    json_t                        *v, *tags;
    uint64_t                       cid, oid;
    ngx_int_t                      rc;
    ngx_str_t                      name, config, text;
    ngx_uint_t                     type, enabled;
    const char                    *err;
    ngx_iot_rc_e                   irc;
    ngx_iot_wait_t                *wait;
    ngx_iot_text_t                 cur;
    ngx_http_iot_output_answer_t  *a;

    err = ngx_http_iot_output_ids(r, ctx, &cid, &oid);
    if (err) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, err);
    }

    a = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_output_answer_t));
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    irc = ngx_iot_output_get((ngx_cycle_t *) ngx_cycle, cid, oid, r->pool,
                             &a->row);
    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, irc, "output not found");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        return ngx_http_iot_output_send_json(r, NGX_HTTP_OK,
                   ngx_http_iot_output_json(&a->row, r->pool));
    }

    if (r->method == NGX_HTTP_DELETE) {
        a->status = NGX_HTTP_NO_CONTENT;

        wait = ngx_http_iot_waiter(r, ngx_http_iot_output_answered, a);

        irc = ngx_iot_output_delete((ngx_cycle_t *) ngx_cycle, cid, oid,
                                    r->connection->log, wait);

        return ngx_http_iot_answer(r, irc);
    }

    /* PATCH: a config replaces the whole config; tags are merged */

    a->status = NGX_HTTP_OK;
    type = a->row.type;

    v = ngx_http_iot_collections_field(ctx->body, "type");

    if (v) {
        if (!json_is_string(v)) {
            return ngx_http_iot_output_invalid(r, "type must be webhook, "
                                                  "udp, mqtt or ifttt");
        }

        name.data = (u_char *) json_string_value(v);
        name.len = json_string_length(v);

        type = ngx_iot_output_type(&name);
    }

    v = ngx_http_iot_collections_field(ctx->body, "config");

    if (v || type != a->row.type) {
        if (v == NULL) {
            v = json_loadb((char *) a->row.config.data, a->row.config.len, 0,
                           NULL);
            rc = ngx_iot_output_config(type, v, &a->row.config, r->pool,
                                       &config, &err);
            json_decref(v);

        } else {
            rc = ngx_iot_output_config(type, v, &a->row.config, r->pool,
                                       &config, &err);
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_iot_output_invalid(r, err);
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        a->row.type = type;
        a->row.config = config;
    }

    enabled = a->row.enabled;

    v = ngx_http_iot_collections_field(ctx->body, "enabled");

    if (v) {
        if (!json_is_boolean(v)) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "enabled must be a boolean");
        }

        enabled = json_is_true(v);
    }

    if (enabled && !a->row.enabled) {
        /* enabled again: what came while it was disabled is not sent */
        a->row.since = ngx_iot_now_ms();
    }

    a->row.enabled = enabled;

    if (ngx_http_iot_collections_tags_field(r, ctx->body, &tags) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (tags) {
        cur.data = a->row.tags.data;
        cur.len = a->row.tags.len;

        irc = ngx_iot_tags_merge(&cur, tags, r->pool, &text);
        if (irc != NGX_IOT_OK) {
            return ngx_http_iot_collections_rc_error(r, irc, NULL);
        }

        a->row.tags = text;
    }

    a->row.revision++;

    return ngx_http_iot_output_write(r, a, 0);
}


/* /logs and /status of an output */

static ngx_int_t
ngx_http_iot_output_log_item(ngx_iot_output_log_t *l, void *data)
{
    json_t  *list = data;

    if (json_array_append_new(list,
            json_pack("{s:I,s:I,s:s%,s:i}",
                      "time", (json_int_t) l->time,
                      "timestamp", (json_int_t) l->time,
                      "message", (char *) l->message.data,
                      l->message.len,
                      "repeated", (int) l->repeated))
        != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_iot_collections_output_info(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    u_char                   cs[NGX_IOT_ID_LEN], os[NGX_IOT_ID_LEN];
    json_t                  *list;
    uint64_t                 cid, oid;
    ngx_int_t                rc;
    const char              *err;
    ngx_iot_rc_e             irc;
    ngx_iot_output_t         o;
    ngx_iot_output_state_t   st;

    err = ngx_http_iot_output_ids(r, ctx, &cid, &oid);
    if (err) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, err);
    }

    irc = ngx_iot_output_get((ngx_cycle_t *) ngx_cycle, cid, oid, r->pool,
                             &o);
    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, irc, "output not found");
    }

    if (!o.enabled) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "the output is disabled");
    }

    if (ctx->seg[4].len == sizeof("logs") - 1) {
        list = json_array();
        if (list == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_iot_output_logs((ngx_cycle_t *) ngx_cycle, oid,
                                ngx_http_iot_output_log_item, list,
                                r->connection->log)
            != NGX_OK)
        {
            json_decref(list);
            return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "the store cannot be read");
        }

        return ngx_http_iot_output_send_json(r, NGX_HTTP_OK,
                   json_pack("{s:o}", "logs", list));
    }

    rc = ngx_iot_output_status((ngx_cycle_t *) ngx_cycle, oid, &st,
                               r->connection->log);

    if (rc == NGX_ERROR) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "the store cannot be read");
    }

    (void) ngx_iot_id_encode(cs, cid);
    (void) ngx_iot_id_encode(os, oid);

    return ngx_http_iot_output_send_json(r, NGX_HTTP_OK,
               json_pack("{s:s%,s:s%,s:b,s:I,s:I,s:I,s:I,s:I}",
                         "collectionId", cs, (size_t) NGX_IOT_ID_LEN,
                         "outputId", os, (size_t) NGX_IOT_ID_LEN,
                         "enabled", 1,
                         "errorCount", (json_int_t) st.errors,
                         "forwarded", (json_int_t) st.forwarded,
                         "received", (json_int_t) st.received,
                         "retries", (json_int_t) st.retries,
                         "dropped", (json_int_t) st.dropped));
}


/* /collections/{cid}/outputs/{oid}/tags[/{name}] */

ngx_int_t
ngx_http_iot_collections_output_tags(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    json_t                        *patch, *v;
    uint64_t                       cid, oid;
    ngx_int_t                      rc;
    ngx_str_t                      name, value, text;
    ngx_uint_t                     one;
    const char                    *err;
    ngx_iot_rc_e                   irc;
    ngx_iot_text_t                 tags;
    ngx_http_iot_output_answer_t  *a;

    err = ngx_http_iot_output_ids(r, ctx, &cid, &oid);
    if (err) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, err);
    }

    one = ctx->route->arg & NGX_HTTP_IOT_ARG_ONE;
    ngx_str_null(&name);

    if (one) {
        name = ctx->seg[5];

        v = (name.len <= NGX_IOT_TAG_NAME_MAX
             && !ngx_strlchr(name.data, name.data + name.len, '\0'))
            ? json_stringn((char *) name.data, name.len) : NULL;

        if (v == NULL) {
            if (r->method == NGX_HTTP_PATCH) {
                return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                          "tag names must be 1 to 64 bytes "
                                          "of UTF-8");
            }

            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                      "tag not found");
        }

        json_decref(v);
    }

    a = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_output_answer_t));
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    irc = ngx_iot_output_get((ngx_cycle_t *) ngx_cycle, cid, oid, r->pool,
                             &a->row);
    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, irc, "output not found");
    }

    tags.data = a->row.tags.data;
    tags.len = a->row.tags.len;

    if (one && r->method != NGX_HTTP_PATCH) {
        rc = ngx_iot_tags_get(&tags, &name, r->pool, &value);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                      "tag not found");
        }

        if (r->method & NGX_HTTP_IOT_M_GET) {
            return ngx_http_iot_collections_send_value(r, &value);
        }
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        return ngx_http_iot_collections_send_tags(r, &tags);
    }

    /* PATCH and DELETE: a patch of the tags */

    if (one) {
        if (r->method == NGX_HTTP_DELETE) {
            v = json_string("");

        } else {
            v = ngx_http_iot_collections_field(ctx->body, "value");

            if (v == NULL || !json_is_string(v)) {
                return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                          "value must be a string");
            }

            json_incref(v);
        }

        patch = json_object();

        if (patch == NULL || v == NULL
            || json_object_setn_new(patch, (char *) name.data, name.len, v)
               != 0)
        {
            json_decref(patch);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        a->tag = (r->method == NGX_HTTP_DELETE) ? 0 : 2;
        a->name = name;

        if (r->method == NGX_HTTP_DELETE) {
            a->status = NGX_HTTP_NO_CONTENT;
        }

    } else {
        patch = ctx->body;

        if (ngx_iot_tags_check(patch, &err) != NGX_OK) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST, err);
        }

        json_incref(patch);
        a->tag = 1;
    }

    if (ngx_iot_tags_check(patch, &err) != NGX_OK) {
        json_decref(patch);
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST, err);
    }

    irc = ngx_iot_tags_merge(&tags, patch, r->pool, &text);
    json_decref(patch);

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, irc, NULL);
    }

    a->row.tags = text;
    a->row.revision++;

    if (a->status == 0) {
        a->status = NGX_HTTP_OK;
    }

    return ngx_http_iot_output_write(r, a, 0);
}
