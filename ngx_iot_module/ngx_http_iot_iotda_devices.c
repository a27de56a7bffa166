
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


static json_t *ngx_http_iot_iotda_device_json(ngx_http_request_t *r,
    ngx_iot_device_t *d);
static json_t *ngx_http_iot_iotda_string(u_char *p, size_t len);


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

    json = ngx_http_iot_iotda_device_json(r, &d);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, json);
}


static json_t *
ngx_http_iot_iotda_device_json(ngx_http_request_t *r, ngx_iot_device_t *d)
{
    u_char                 text[NGX_IOT_ID_LEN + NGX_IOT_IDENT_MAX_DIGITS
                                + sizeof("yyyyMMddTHHmmssZ")];
    u_char                *last;
    json_t                *o, *auth;
    ngx_str_t              name, description, barcode, app_name;
    ngx_uint_t             fail;
    ngx_iot_collection_t   c;

    static ngx_str_t  key = ngx_string("name");

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

    if (d->imei.key) {
        last = ngx_iot_ident_encode(text, d->imei.key);

    } else if (d->imsi.key) {
        last = ngx_iot_ident_encode(text, d->imsi.key);

    } else {
        last = ngx_iot_id_encode(text, d->id.key);
    }

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
    ngx_http_iot_iotda_set(o, "auth_info", auth);

    ngx_http_iot_iotda_set(o, "product_id", json_string(""));
    ngx_http_iot_iotda_set(o, "product_name", json_string(""));

    /* attached now (it has an address), seen before, never seen */

    ngx_http_iot_iotda_set(o, "status",
                           json_string(d->net_family ? "ONLINE"
                                       : d->net_at ? "OFFLINE"
                                       : "INACTIVE"));

    last = ngx_http_iot_iotda_time(text, d->created_at);
    ngx_http_iot_iotda_set(o, "create_time",
                           ngx_http_iot_iotda_text(text, last - text));
    ngx_http_iot_iotda_set(o, "connection_status_update_time", json_null());
    ngx_http_iot_iotda_set(o, "active_time", json_null());
    ngx_http_iot_iotda_set(o, "tags", json_array());
    ngx_http_iot_iotda_set(o, "extension_info", json_object());

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
