
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's device bodies through their validators, against a
 * real, empty registry and a product model made at start by the product
 * validator (ngx_http_iot_iotda_products.c) from a model with every data
 * type and defaults:
 *
 *   0  a device made: device_id, node_id, device_name, product_id,
 *      description, gateway_id, app_id, extension_info, auth_info
 *      (ngx_http_iot_iotda_make_fields(), as ngx_http_iot_iotda_create()
 *      checks them), then the initial shadow from the model's defaults
 *      and the body's shadow;
 *   1  a device changed: device_name, description, extension_info and
 *      auth_info's secure_access and timeout;
 *   2  a shadow written: each item of shadow against the model;
 *   3  tags bound or unbound (the keys and values);
 *   4  a message sent: message_id, name, topics, encoding, payload_format,
 *      ttl, message, and the payload built from them.
 *
 * A refusal must be a 4xx with a message (ngx_fuzz_refusal); what is
 * made must be whole (a shadow document that dumps, a payload within the
 * limit).
 *
 * Input: byte 0 chooses the validator (and for 3, bind or unbind), the
 * rest is the body.
 */


#include "ngx_fuzz_http.h"
#include "ngx_http_iot_iotda_products.c"
#include "ngx_http_iot_iotda_devices.c"
#include "ngx_http_iot_iotda_shadow.c"
#include "ngx_http_iot_iotda_messages.c"
#include "ngx_fuzz_iotda.h"


static const char  ngx_fuzz_product[] =
    "{\"name\":\"Meter\",\"device_type\":\"Meter\","
    "\"protocol_type\":\"CoAP\",\"data_format\":\"json\","
    "\"service_capabilities\":[{\"service_id\":\"WaterMeter\","
    "\"properties\":["
    "{\"property_name\":\"temperature\",\"data_type\":\"int\","
    "\"min\":\"0\",\"max\":\"100\",\"default_value\":20},"
    "{\"property_name\":\"mode\",\"data_type\":\"enum\","
    "\"enum_list\":[\"eco\",\"full\"],\"default_value\":\"eco\"},"
    "{\"property_name\":\"label\",\"data_type\":\"string\","
    "\"max_length\":8,\"default_value\":\"meter\"},"
    "{\"property_name\":\"ratio\",\"data_type\":\"decimal\","
    "\"min\":\"-1.5\",\"max\":\"1e3\",\"default_value\":0.5},"
    "{\"property_name\":\"when\",\"data_type\":\"DateTime\"},"
    "{\"property_name\":\"blob\",\"data_type\":\"jsonObject\"},"
    "{\"property_name\":\"list\",\"data_type\":\"string list\"}]},"
    "{\"service_id\":\"Valve\",\"properties\":["
    "{\"property_name\":\"open\",\"data_type\":\"int\"}]}]}";

static json_t  *ngx_fuzz_model;


static ngx_int_t ngx_fuzz_made(ngx_http_request_t *r, json_t *body);
static ngx_int_t ngx_fuzz_changed(ngx_http_request_t *r, json_t *body);
static ngx_int_t ngx_fuzz_shadow(ngx_http_request_t *r, json_t *body);
static ngx_int_t ngx_fuzz_tags(ngx_http_request_t *r, json_t *body,
    ngx_uint_t bind);
static ngx_int_t ngx_fuzz_message(ngx_http_request_t *r, json_t *body);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    ngx_fuzz_zone();

    ngx_fuzz_model = ngx_fuzz_iotda_model(ngx_fuzz_product);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t              *json;
    ngx_int_t            rc;
    ngx_http_iot_ctx_t  *ctx;
    ngx_http_request_t  *r;

    r = ngx_fuzz_json_request(data, size);
    if (r == NULL) {
        return 0;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    json = ctx->body;

    /* the device of the path, as a message names it */
    ngx_str_set(&ctx->seg[2], "WaterMeter_node-1");

    switch (data[0] % 6) {

    case 0:
        rc = ngx_fuzz_made(r, json);
        break;

    case 1:
        rc = ngx_fuzz_changed(r, json);
        break;

    case 2:
        rc = ngx_fuzz_shadow(r, json);
        break;

    case 3:
    case 4:
        rc = ngx_fuzz_tags(r, json, data[0] % 6 == 3);
        break;

    default:
        rc = ngx_fuzz_message(r, json);
        break;
    }

    if (rc == NGX_ERROR) {
        /* nothing here runs out of memory */
        abort();
    }

    ngx_fuzz_refusal(r, rc);

    ngx_fuzz_json_done(r);

    return 0;
}


static ngx_int_t
ngx_fuzz_made(ngx_http_request_t *r, json_t *body)
{
    json_t                     *doc;
    size_t                      n;
    ngx_int_t                   rc;
    ngx_http_iot_iotda_made_t   f;
    ngx_http_iot_iotda_make_t  *mk;

    mk = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_make_t));
    doc = ngx_http_iot_iotda_json_keep(r, json_object());

    if (mk == NULL || doc == NULL) {
        abort();
    }

    /* the checks of ngx_http_iot_iotda_create() */

    rc = ngx_http_iot_iotda_make_fields(r, body, mk, doc, &f);
    if (rc != NGX_OK) {
        return rc;
    }

    if (f.secret.len && (f.secret.len < 8 || f.secret.len > 32)) {
        abort();
    }

    rc = ngx_http_iot_iotda_shadow_initial(r, ngx_fuzz_model,
                                           json_object_get(body, "shadow"),
                                           doc);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the device's part as the store keeps it */
    n = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    if (n == 0) {
        abort();
    }

    (void) ngx_iot_iotda_imei(mk->node.data, mk->node.len);

    return NGX_OK;
}


static ngx_int_t
ngx_fuzz_changed(ngx_http_request_t *r, json_t *body)
{
    json_t                     *auth;
    ngx_str_t                   name, description, secret;
    ngx_http_iot_iotda_make_t  *mk;

    mk = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_make_t));
    if (mk == NULL) {
        abort();
    }

    if (ngx_http_iot_iotda_name_text(r, body, "device_name", 256, &name)
        != NGX_OK
        || ngx_http_iot_iotda_name_text(r, body, "description", 2048,
                                        &description)
           != NGX_OK
        || ngx_http_iot_iotda_extension(r, body, &mk->extension) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    auth = json_object_get(body, "auth_info");

    if (auth && !json_is_null(auth)
        && json_is_object(auth)
        && json_object_get(auth, "auth_type") == NULL
        && json_object_get(auth, "secret") == NULL
        && json_object_get(auth, "fingerprint") == NULL)
    {
        return ngx_http_iot_iotda_auth_info(r, auth, mk, NULL, &secret);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_fuzz_shadow(ngx_http_request_t *r, json_t *body)
{
    size_t      i;
    json_t     *list, *service;
    ngx_int_t   rc;

    list = json_object_get(body, "shadow");

    if (!json_is_array(list)) {
        return NGX_OK;
    }

    for (i = 0; i < json_array_size(list); i++) {
        service = NULL;

        rc = ngx_http_iot_iotda_desired(r, ngx_fuzz_model,
                                        json_array_get(list, i), &service);
        if (rc != NGX_OK) {
            return rc;
        }

        if (service == NULL) {
            abort();
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_fuzz_tags(ngx_http_request_t *r, json_t *body, ngx_uint_t bind)
{
    size_t   i;
    json_t  *list, *t;

    list = json_object_get(body, bind ? "tags" : "tag_keys");

    if (!json_is_array(list)) {
        return NGX_OK;
    }

    for (i = 0; i < json_array_size(list); i++) {
        t = json_array_get(list, i);

        if (bind) {
            if (json_is_object(t)) {
                (void) ngx_http_iot_iotda_tag_text(r,
                                            json_object_get(t, "tag_key"),
                                            1, 64);
                (void) ngx_http_iot_iotda_tag_text(r,
                                            json_object_get(t, "tag_value"),
                                            0, 128);
            }

        } else {
            (void) ngx_http_iot_iotda_tag_text(r, t, 1, 64);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_fuzz_message(ngx_http_request_t *r, json_t *body)
{
    json_t                    *fields;
    ngx_int_t                  rc;
    ngx_str_t                  payload;
    ngx_http_iot_ctx_t        *ctx;
    ngx_http_iot_iotda_msg_t  *msg;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    msg = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_msg_t));
    fields = ngx_http_iot_iotda_json_keep(r, json_object());

    if (msg == NULL || fields == NULL) {
        abort();
    }

    rc = ngx_http_iot_iotda_msg_fields(r, ctx, msg, fields, &payload);

    if (rc == NGX_OK
        && (payload.len == 0 || payload.len > NGX_IOT_PAYLOAD_MAX
            || msg->message_id.len == 0))
    {
        abort();
    }

    return rc;
}
