
/*
 * Copyright (C) nginx-iot authors
 *
 * The things dialect's /devices/{deviceId}/network-adapters: list (with a
 * type filter), add, and /{adapterId}: get, PUT, DELETE.  Three shapes,
 * told apart by "type": cellular (imei, iccid, sharedSecret), lora
 * (devEui, joinEui, appKey), generic (dvnUuid, sharedSecret).  Secrets
 * are taken, kept in the store, and never shown.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_things.h"
#include "ngx_iot_adapters.h"


/* how a write is answered: its status, and what the adapter shows */
typedef struct {
    ngx_uint_t                 status;
    u_char                     device_uuid[NGX_IOT_UUID_SIZE];
    uint64_t                   imei;
} ngx_http_iot_things_adapter_answer_t;


static ngx_str_t  ngx_http_iot_things_types[] = {
    ngx_string("cellular"),
    ngx_string("lora"),
    ngx_string("generic")
};


static ngx_int_t ngx_http_iot_things_adapter_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static json_t *ngx_http_iot_things_adapter_json(ngx_iot_adapter_t *a,
    u_char *device_uuid, uint64_t imei);
static ngx_int_t ngx_http_iot_things_adapter_fields(ngx_http_request_t *r,
    json_t *body, ngx_uint_t type, ngx_uint_t create,
    ngx_iot_adapter_change_t *ch);
static ngx_int_t ngx_http_iot_things_type(ngx_str_t *s);
static ngx_int_t ngx_http_iot_things_string(ngx_http_request_t *r,
    json_t *body, const char *name, ngx_uint_t required, ngx_str_t *out);
static ngx_uint_t ngx_http_iot_things_chars(ngx_str_t *s, size_t min,
    size_t max, ngx_uint_t hex);


ngx_int_t
ngx_http_iot_things_adapters(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                                 uuid[NGX_IOT_UUID_SIZE];
    u_char                                 id[NGX_IOT_UUID_SIZE];
    json_t                                *list, *json;
    ngx_int_t                              type, only;
    ngx_str_t                              arg;
    ngx_uint_t                             i, present[NGX_IOT_ADAPTER_TYPES];
    ngx_iot_rc_e                           rc;
    ngx_iot_wait_t                        *wait;
    ngx_iot_device_t                       d, dev;
    ngx_iot_adapter_t                      a[NGX_IOT_ADAPTER_TYPES];
    ngx_iot_adapter_change_t               ch;
    ngx_http_iot_things_adapter_answer_t  *ans;

    if (ngx_http_iot_things_device_ref(r, &ctx->seg[1], &dev) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (!ngx_http_iot_things_reaches(&ctx->who, dev.collection_id,
                                     r->method != NGX_HTTP_GET))
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "device not found");
    }

    rc = ngx_iot_adapters_get((ngx_cycle_t *) ngx_cycle, dev.id.key,
                              dev.collection_id, r->pool, &d, a, present);
    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_things_rc_error(r, rc, "device not found");
    }

    /* which adapter the path names: one of the device's three ids */

    type = 0;

    if (ctx->route->arg) {
        if (ngx_iot_uuid_decode(ctx->seg[3].data, ctx->seg[3].len, uuid)
            != NGX_OK)
        {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "adapterId must be a UUID");
        }

        for (i = 0; i < NGX_IOT_ADAPTER_TYPES; i++) {
            ngx_iot_adapter_uuid(d.uuid, i + 1, id);

            if (ngx_memcmp(id, uuid, NGX_IOT_UUID_SIZE) == 0) {
                type = i + 1;
                break;
            }
        }

        if (type == 0
            || (r->method == NGX_HTTP_GET && !present[type - 1]))
        {
            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                      "network adapter not found");
        }
    }

    /* GET: the list (?type=), or one */

    if (r->method == NGX_HTTP_GET) {

        if (type) {
            json = ngx_http_iot_things_adapter_json(&a[type - 1], d.uuid,
                                                    d.imei.key);
            if (json == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_iot_things_send_json(r, NGX_HTTP_OK, json);
        }

        only = 0;

        if (ngx_http_arg(r, (u_char *) "type", 4, &arg) == NGX_OK) {
            only = ngx_http_iot_things_type(&arg);

            if (only == 0) {
                return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                          "type must be cellular, lora or "
                                          "generic");
            }
        }

        json = json_object();
        list = json_array();

        if (json == NULL || list == NULL
            || json_object_set_new(json, "items", list) != 0)
        {
            json_decref(json);
            json_decref(list);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (i = 0; i < NGX_IOT_ADAPTER_TYPES; i++) {
            if (!present[i] || (only && (ngx_uint_t) only != i + 1)) {
                continue;
            }

            if (json_array_append_new(list,
                    ngx_http_iot_things_adapter_json(&a[i], d.uuid,
                                                     d.imei.key))
                != 0)
            {
                json_decref(json);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        return ngx_http_iot_things_send_json(r, NGX_HTTP_OK, json);
    }

    ans = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_things_adapter_answer_t));
    if (ans == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ans->device_uuid, d.uuid, NGX_IOT_UUID_SIZE);
    ans->imei = d.imei.key;

    if (r->method == NGX_HTTP_DELETE) {
        ans->status = NGX_HTTP_NO_CONTENT;

        wait = ngx_http_iot_waiter(r, ngx_http_iot_things_adapter_answer,
                                   ans);
        if (wait == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_iot_adapter_delete((ngx_cycle_t *) ngx_cycle, d.id.key,
                                    d.collection_id, type,
                                    r->connection->log, wait);

        return ngx_http_iot_answer(r, rc);
    }

    /* POST adds, PUT changes (the type is the adapter's) */

    if (ngx_http_iot_things_adapter_fields(r, ctx->body, type,
                                           r->method == NGX_HTTP_POST, &ch)
        != NGX_OK)
    {
        return ngx_http_iot_reject(r);
    }

    ch.device_id = d.id.key;
    ch.collection_id = d.collection_id;
    ch.create = (r->method == NGX_HTTP_POST);

    ans->status = ch.create ? NGX_HTTP_CREATED : NGX_HTTP_OK;

    if (ch.type == NGX_IOT_ADAPTER_CELLULAR) {
        ans->imei = ch.imei;
    }

    wait = ngx_http_iot_waiter(r, ngx_http_iot_things_adapter_answer, ans);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iot_adapter_put((ngx_cycle_t *) ngx_cycle, &ch, r->pool,
                             &wait->out.a, r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


static ngx_int_t
ngx_http_iot_things_adapter_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    json_t                                *json;
    ngx_http_iot_ctx_t                    *ctx;
    ngx_http_iot_things_adapter_answer_t  *ans;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    ans = ctx->answer_data;

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_things_rc_error(r, rc,
                                            "network adapter not found");
    }

    if (ans->status == NGX_HTTP_NO_CONTENT) {
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    json = ngx_http_iot_things_adapter_json(&ctx->wait.out.a,
                                            ans->device_uuid, ans->imei);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_things_send_json(r, ans->status, json);
}


/* an adapter's JSON: never its secrets */

static json_t *
ngx_http_iot_things_adapter_json(ngx_iot_adapter_t *a, u_char *device_uuid,
    uint64_t imei)
{
    u_char      *last;
    u_char       text[NGX_IOT_UUID_LEN + 1], id[NGX_IOT_UUID_SIZE];
    json_t      *o;
    ngx_uint_t   fail;

    o = json_object();
    if (o == NULL) {
        return NULL;
    }

    fail = 0;

#define ngx_http_iot_things_set(key, value)                                   \
    fail |= (json_object_set_new(o, key, value) != 0)

    ngx_iot_adapter_uuid(device_uuid, a->type, id);
    last = ngx_iot_uuid_encode(text, id);
    ngx_http_iot_things_set("id", json_stringn((char *) text, last - text));

    ngx_http_iot_things_set("type",
        json_stringn((char *) ngx_http_iot_things_types[a->type - 1].data,
                     ngx_http_iot_things_types[a->type - 1].len));

    switch (a->type) {

    case NGX_IOT_ADAPTER_CELLULAR:
        last = ngx_iot_ident_encode(text, imei);
        ngx_http_iot_things_set("imei",
                                json_stringn((char *) text, last - text));

        if (a->iccid.len) {
            ngx_http_iot_things_set("iccid",
                                    json_stringn((char *) a->iccid.data,
                                                 a->iccid.len));
        }

        break;

    case NGX_IOT_ADAPTER_LORA:
        last = ngx_hex_dump(text, a->value, 8);
        ngx_http_iot_things_set("devEui",
                                json_stringn((char *) text, last - text));
        break;

    default:
        last = ngx_iot_uuid_encode(text, a->value);
        ngx_http_iot_things_set("dvnUuid",
                                json_stringn((char *) text, last - text));
        break;
    }

    last = ngx_http_iot_things_time(text, a->created_at);
    ngx_http_iot_things_set("createdAt",
                            json_stringn((char *) text, last - text));

    last = ngx_http_iot_things_time(text, a->modified_at);
    ngx_http_iot_things_set("modifiedAt",
                            json_stringn((char *) text, last - text));

#undef ngx_http_iot_things_set

    if (fail) {
        json_decref(o);
        return NULL;
    }

    return o;
}


static ngx_int_t
ngx_http_iot_things_type(ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOT_ADAPTER_TYPES; i++) {
        if (s->len == ngx_http_iot_things_types[i].len
            && ngx_strncmp(s->data, ngx_http_iot_things_types[i].data,
                           s->len) == 0)
        {
            return i + 1;
        }
    }

    return 0;
}


/*
 * The body of POST and PUT.  type: the adapter's (PUT), 0: the body's
 * (POST).  A secret left out of a PUT is kept.
 */

static ngx_int_t
ngx_http_iot_things_adapter_fields(ngx_http_request_t *r, json_t *body,
    ngx_uint_t type, ngx_uint_t create, ngx_iot_adapter_change_t *ch)
{
    ngx_int_t   t;
    ngx_str_t   s;

    ngx_memzero(ch, sizeof(ngx_iot_adapter_change_t));

    if (ngx_http_iot_things_string(r, body, "type", 1, &s) != NGX_OK) {
        return NGX_DECLINED;
    }

    t = ngx_http_iot_things_type(&s);

    if (t == 0) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "type must be cellular, lora or "
                                    "generic");
    }

    if (type && (ngx_uint_t) t != type) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "type must be the adapter's");
    }

    ch->type = t;

    switch (t) {

    case NGX_IOT_ADAPTER_CELLULAR:
        if (ngx_http_iot_things_string(r, body, "imei", 1, &s) != NGX_OK) {
            return NGX_DECLINED;
        }

        if (!ngx_http_iot_things_chars(&s, 15, 16, 0)) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "imei must be 15 or 16 "
                                        "digits");
        }

        (void) ngx_iot_ident_decode(s.data, s.len, &ch->imei);

        if (ngx_http_iot_things_string(r, body, "iccid", 0, &ch->iccid)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        if (ch->iccid.len && !ngx_http_iot_things_chars(&ch->iccid, 18, 22, 0))
        {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "iccid must be 18 to 22 "
                                        "digits");
        }

        break;

    case NGX_IOT_ADAPTER_LORA:
        if (ngx_http_iot_things_string(r, body, "devEui", 1, &s) != NGX_OK) {
            return NGX_DECLINED;
        }

        if (!ngx_http_iot_things_chars(&s, 16, 16, 1)
            || ngx_iot_hex_decode(ch->value, s.data, s.len) != NGX_OK
            || ngx_iot_uuid_is_nil(ch->value))
        {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "devEui must be 16 hex "
                                        "digits, not all zero");
        }

        if (ngx_http_iot_things_string(r, body, "joinEui", 0, &ch->join_eui)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        if (ch->join_eui.len
            && !ngx_http_iot_things_chars(&ch->join_eui, 16, 16, 1))
        {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "joinEui must be 16 hex "
                                        "digits");
        }

        if (ngx_http_iot_things_string(r, body, "appKey", 0, &ch->secret)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        if (ch->secret.len
            && !ngx_http_iot_things_chars(&ch->secret, 32, 32, 1))
        {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "appKey must be 32 hex "
                                        "digits");
        }

        return NGX_OK;

    default: /* generic */
        if (ngx_http_iot_things_string(r, body, "dvnUuid", 1, &s) != NGX_OK) {
            return NGX_DECLINED;
        }

        if (ngx_iot_uuid_decode(s.data, s.len, ch->value) != NGX_OK) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "dvnUuid must be a UUID");
        }

        break;
    }

    /* cellular and generic: a shared secret (required for generic) */

    if (ngx_http_iot_things_string(r, body, "sharedSecret",
                                   create && t == NGX_IOT_ADAPTER_GENERIC,
                                   &ch->secret)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ch->secret.len && !ngx_http_iot_things_chars(&ch->secret, 30, 100, 2))
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "sharedSecret must be 30 to 100 "
                                    "letters and digits");
    }

    return NGX_OK;
}


/* a string field (null: absent); required: present and not empty */

static ngx_int_t
ngx_http_iot_things_string(ngx_http_request_t *r, json_t *body,
    const char *name, ngx_uint_t required, ngx_str_t *out)
{
    u_char  *msg;
    json_t  *v;

    out->data = NULL;
    out->len = 0;

    v = json_object_get(body, name);

    if ((v == NULL || json_is_null(v)) && !required) {
        return NGX_OK;
    }

    if (v == NULL || !json_is_string(v)
        || (required && json_string_length(v) == 0))
    {
        msg = ngx_pnalloc(r->pool, ngx_strlen(name)
                                   + sizeof(" is required, a string"));
        if (msg == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_sprintf(msg, "%s %s%Z", name,
                           (v == NULL || json_is_null(v))
                           ? "is required" : "must be a string");

        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    (char *) msg);
    }

    out->data = (u_char *) json_string_value(v);
    out->len = json_string_length(v);

    return NGX_OK;
}


/* min to max characters, digits (0), hex digits (1), letters, digits (2) */

static ngx_uint_t
ngx_http_iot_things_chars(ngx_str_t *s, size_t min, size_t max,
    ngx_uint_t hex)
{
    u_char  c;
    size_t  i;

    if (s->len < min || s->len > max) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (c >= '0' && c <= '9') {
            continue;
        }

        if (hex == 1 && ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')) {
            continue;
        }

        if (hex == 2 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            continue;
        }

        return 0;
    }

    return 1;
}
