
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's device command bodies (POST .../commands) through
 * ngx_http_iot_iotda_cmd_fields() (ngx_http_iot_iotda_commands.c):
 * service_id, command_name and paras checked against a product model
 * made at start by the product validator (ngx_http_iot_iotda_products.c)
 * from a model with commands whose parameters have every data type,
 * ranges, lengths, enums and required ones, a command without a paras
 * list and one with an empty list; then the fields kept and the payload
 * the device receives.
 *
 * A refusal must be a 4xx with a message (ngx_fuzz_refusal); what is made
 * must be whole (the fields and the payload as JSON text, the payload
 * within the downlink limit).
 *
 * Input: byte 0 chooses the device (with the model, or without a
 * product), the rest is the body.
 */


#include "ngx_fuzz_http.h"
#include "ngx_http_iot_iotda_products.c"
#include "ngx_http_iot_iotda_commands.c"
#include "ngx_fuzz_iotda.h"


static const char  ngx_fuzz_product[] =
    "{\"name\":\"Meter\",\"device_type\":\"Meter\","
    "\"protocol_type\":\"CoAP\",\"data_format\":\"json\","
    "\"service_capabilities\":[{\"service_id\":\"Meter\","
    "\"properties\":[{\"property_name\":\"level\",\"data_type\":\"int\"}],"
    "\"commands\":["
    "{\"command_name\":\"set\",\"paras\":["
    "{\"para_name\":\"level\",\"data_type\":\"int\",\"required\":true,"
    "\"min\":\"0\",\"max\":\"100\"},"
    "{\"para_name\":\"mode\",\"data_type\":\"enum\","
    "\"enum_list\":[\"eco\",\"full\"]},"
    "{\"para_name\":\"label\",\"data_type\":\"string\",\"max_length\":8},"
    "{\"para_name\":\"ratio\",\"data_type\":\"decimal\","
    "\"min\":\"-1.5\",\"max\":\"1e3\"},"
    "{\"para_name\":\"big\",\"data_type\":\"long\"},"
    "{\"para_name\":\"on\",\"data_type\":\"boolean\"},"
    "{\"para_name\":\"when\",\"data_type\":\"DateTime\"},"
    "{\"para_name\":\"blob\",\"data_type\":\"jsonObject\"},"
    "{\"para_name\":\"list\",\"data_type\":\"string list\"}]},"
    "{\"command_name\":\"reset\"},"
    "{\"command_name\":\"ping\",\"paras\":[]}]},"
    "{\"service_id\":\"Valve\",\"properties\":[],"
    "\"commands\":[{\"command_name\":\"set\"},"
    "{\"command_name\":\"open\",\"paras\":["
    "{\"para_name\":\"seconds\",\"data_type\":\"int\"}]}]}]}";

static ngx_str_t  ngx_fuzz_model;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t   n;
    json_t  *model;

    ngx_fuzz_init();
    ngx_fuzz_zone();

    model = ngx_fuzz_iotda_model(ngx_fuzz_product);

    /* the model as the store keeps it */

    n = json_dumpb(model, NULL, 0, JSON_COMPACT);
    ngx_fuzz_model.data = malloc(n);

    if (ngx_fuzz_model.data == NULL) {
        abort();
    }

    ngx_fuzz_model.len = json_dumpb(model, (char *) ngx_fuzz_model.data, n,
                                    JSON_COMPACT);

    json_decref(model);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_int_t                  rc;
    ngx_str_t                  payload;
    ngx_pool_t                *pool;
    ngx_http_iot_ctx_t        *ctx;
    ngx_http_request_t        *r;
    ngx_iot_iotda_view_t      *v;
    ngx_http_iot_iotda_cmd_t  *cmd;

    r = ngx_fuzz_json_request(data, size);
    if (r == NULL) {
        return 0;
    }

    pool = r->pool;
    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    v = ngx_pcalloc(pool, sizeof(ngx_iot_iotda_view_t));
    cmd = ngx_pcalloc(pool, sizeof(ngx_http_iot_iotda_cmd_t));

    if (v == NULL || cmd == NULL) {
        abort();
    }

    ngx_str_set(&v->device_id, "Meter_node-1");

    if (data[0] & 1) {
        /* a device of a product */
        v->model = ngx_fuzz_model;
    }

    ngx_str_null(&payload);

    rc = ngx_http_iot_iotda_cmd_fields(r, ctx, v, cmd, &payload);

    if (rc == NGX_ERROR) {
        /* nothing here runs out of memory */
        abort();
    }

    if (rc == NGX_OK
        && (payload.len == 0 || payload.len > NGX_IOT_PAYLOAD_MAX
            || cmd->fields.len == 0))
    {
        abort();
    }

    ngx_fuzz_refusal(r, rc);

    ngx_fuzz_json_done(r);

    return 0;
}
