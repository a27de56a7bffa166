
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's device commands (POST /devices/{device_id}/commands,
 * IoTDA's CreateCommand): service_id, command_name and paras checked
 * against the device's product model (the parameters typed as properties
 * are, ngx_http_iot_iotda_default()), then sent as a message is: a
 * downlink of the core over the device's transport, kept with its state
 * and, beside it in the same transaction, the command_id and the fields
 * (docs/iotda.md, "Commands").
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_iotda.h"
#include "ngx_iot_downlink.h"
#include "ngx_iot_store_iotda.h"


/* a command on its way: sent, then kept */
typedef struct {
    ngx_iot_downlink_batch_t       batch;
    ngx_iot_downlink_t             m;
    ngx_str_t                      command_id;
    ngx_str_t                      fields;
} ngx_http_iot_iotda_cmd_t;


static ngx_int_t ngx_http_iot_iotda_cmd_fields(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_iot_iotda_view_t *v,
    ngx_http_iot_iotda_cmd_t *cmd, ngx_str_t *payload);
static ngx_int_t ngx_http_iot_iotda_cmd_model(ngx_http_request_t *r,
    json_t *model, ngx_str_t *sid, ngx_str_t *name, json_t **service,
    json_t **command);
static ngx_int_t ngx_http_iot_iotda_cmd_paras(ngx_http_request_t *r,
    json_t *command, json_t *paras);
static ngx_int_t ngx_http_iot_iotda_cmd_refuse(ngx_http_request_t *r,
    const char *key, const char *why);
static ngx_int_t ngx_http_iot_iotda_cmd_keep(ngx_iot_store_t *store,
    ngx_iot_downlink_batch_t *b, ngx_log_t *log);
static ngx_int_t ngx_http_iot_iotda_cmd_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);


/*
 * POST /devices/{device_id}/commands: the device reached with write
 * access, as for a message; the fields checked; the command sent once
 * through the device's transport; then kept, and answered.
 */

ngx_int_t
ngx_http_iot_iotda_commands(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                    *p, uuid[NGX_IOT_UUID_SIZE];
    ngx_int_t                  rc;
    ngx_str_t                  payload;
    ngx_iot_rc_e               irc;
    ngx_iot_wait_t            *wait;
    ngx_iot_downlink_e         transport;
    ngx_iot_iotda_view_t      *v;
    ngx_http_iot_loc_conf_t   *lcf;
    ngx_http_iot_iotda_cmd_t  *cmd;

    v = ngx_palloc(r->pool, sizeof(ngx_iot_iotda_view_t));
    cmd = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_cmd_t));

    if (v == NULL || cmd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    transport = NGX_IOT_DOWNLINK_UDP;

    rc = ngx_http_iot_iotda_msg_device(r, ctx, 1, v, &transport);

    if (rc == NGX_OK) {
        rc = ngx_http_iot_iotda_cmd_fields(r, ctx, v, cmd, &payload);
    }

    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                 : ngx_http_iot_error(r, ctx->status,
                                                      ctx->message);
    }

    if (ngx_iot_downlink_ready((ngx_cycle_t *) ngx_cycle, transport)
        != NGX_IOT_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  (transport == NGX_IOT_DOWNLINK_UDP)
                                  ? "IOTDA.000003 the server has no UDP "
                                    "socket to send commands from "
                                    "(iot_uplink)"
                                  : "IOTDA.000003 the server has no CoAP "
                                    "link for the device's CoAP product "
                                    "(iot_coap_link)");
    }

    /* the platform's command_id: a UUID */

    p = ngx_pnalloc(r->pool, NGX_IOT_UUID_LEN);
    if (p == NULL || ngx_iot_uuid_new(uuid) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmd->command_id.data = p;
    cmd->command_id.len = ngx_iot_uuid_encode(p, uuid) - p;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_iot_module);

    /* a command waits as long as any downlink (iot_downlink_ttl) */

    cmd->m.port = lcf->message_port;
    cmd->m.payload = payload;

    if (ngx_iot_downlink_batch_init(&cmd->batch, r->pool, transport,
                                    &cmd->m)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmd->batch.also = ngx_http_iot_iotda_cmd_keep;
    cmd->batch.also_data = cmd;

    irc = ngx_iot_downlink((ngx_cycle_t *) ngx_cycle, &cmd->batch, &v->d,
                           r->connection->log);

    if (irc == NGX_IOT_STORE_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wait = ngx_http_iot_waiter(r, ngx_http_iot_iotda_cmd_answer, cmd);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_answer(r,
                               ngx_iot_downlink_keep((ngx_cycle_t *) ngx_cycle,
                                                     &cmd->batch,
                                                     r->connection->log,
                                                     wait));
}


/*
 * The request's fields (docs/iotda.md, "Commands"), into the command's
 * fields as kept and the payload the device receives: IoTDA's command,
 * {"object_device_id","service_id","command_name","paras"}, compact.
 */

static ngx_int_t
ngx_http_iot_iotda_cmd_fields(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_iotda_view_t *v, ngx_http_iot_iotda_cmd_t *cmd,
    ngx_str_t *payload)
{
    json_t     *body, *paras, *model, *service, *command, *sj, *nj;
    json_t     *fields, *env;
    ngx_int_t   rc;
    ngx_str_t   sid, name;

    body = ctx->body;

    if (ngx_http_iot_iotda_text(r, body, "service_id", 0, 64, 0, &sid)
        != NGX_OK
        || ngx_http_iot_iotda_text(r, body, "command_name", 0, 128, 0,
                                   &name)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    paras = json_object_get(body, "paras");

    if (!json_is_object(paras)) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 paras is required: "
                                          "a JSON object");
    }

    service = NULL;
    command = NULL;

    if (sid.len || name.len) {
        if (v->model.len == 0) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 service_id, "
                                              "command_name: the device has "
                                              "no product: its commands have "
                                              "no model");
        }

        model = ngx_http_iot_iotda_model_json(r, v->model.data,
                                              v->model.len);
        if (model == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_iot_iotda_cmd_model(r, model, &sid, &name, &service,
                                          &command);
        if (rc != NGX_OK) {
            return rc;
        }

        if (command) {
            rc = ngx_http_iot_iotda_cmd_paras(r, command, paras);
            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    /* service_id: the request's, or that of the service found by name */

    sj = service ? json_incref(json_object_get(service, "service_id"))
                 : json_null();
    nj = name.len ? json_stringn((char *) name.data, name.len) : json_null();

    fields = json_pack("{s:o, s:o, s:O}", "service_id", sj, "command_name", nj,
                       "paras", paras);
    if (fields == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_iot_iotda_json_text(r->pool, fields, &cmd->fields);

    env = json_pack("{s:s%, s:O, s:O, s:O}",
                    "object_device_id",
                    (char *) v->device_id.data, v->device_id.len,
                    "service_id", json_object_get(fields, "service_id"),
                    "command_name", json_object_get(fields, "command_name"),
                    "paras", paras);

    json_decref(fields);

    if (env == NULL || rc != NGX_OK) {
        json_decref(env);
        return NGX_ERROR;
    }

    rc = ngx_http_iot_iotda_json_text(r->pool, env, payload);
    json_decref(env);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (payload->len > NGX_IOT_PAYLOAD_MAX) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 paras: the command "
                                          "sent is more than 2048 bytes");
    }

    return NGX_OK;
}


/*
 * The service and the command the request names in the model: a given
 * service_id is a service of the model; a given command_name is a
 * command of that service, or, without service_id, of exactly one.
 */

static ngx_int_t
ngx_http_iot_iotda_cmd_model(ngx_http_request_t *r, json_t *model,
    ngx_str_t *sid, ngx_str_t *name, json_t **service, json_t **command)
{
    size_t       i, n;
    json_t      *list, *svc, *c;

    if (sid->len) {
        *service = ngx_http_iot_iotda_named(model, "service_capabilities",
                                            "service_id",
                                            (char *) sid->data);
        if (*service == NULL) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 service_id: a "
                                              "service that the product's "
                                              "model does not have");
        }
    }

    if (name->len == 0) {
        return NGX_OK;
    }

    if (*service) {
        *command = ngx_http_iot_iotda_named(*service, "commands",
                                            "command_name",
                                            (char *) name->data);
        if (*command == NULL) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 command_name: a "
                                              "command that the service "
                                              "does not have");
        }

        return NGX_OK;
    }

    n = 0;
    list = json_object_get(model, "service_capabilities");

    for (i = 0; json_is_array(list) && i < json_array_size(list); i++) {
        svc = json_array_get(list, i);
        c = ngx_http_iot_iotda_named(svc, "commands", "command_name",
                                     (char *) name->data);
        if (c) {
            *service = svc;
            *command = c;
            n++;
        }
    }

    if (n == 0) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 command_name: a "
                                          "command that no service of the "
                                          "product's model has");
    }

    if (n > 1) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 service_id is "
                                          "required: more than one service "
                                          "has this command_name");
    }

    return NGX_OK;
}


/*
 * paras against the command's parameters, when the model lists them:
 * each one a parameter of the command, its value of the parameter's
 * type (as a property's, ngx_http_iot_iotda_default()), every required
 * one present.  A command without a paras list takes any object.
 */

static ngx_int_t
ngx_http_iot_iotda_cmd_paras(ngx_http_request_t *r, json_t *command,
    json_t *paras)
{
    size_t       i;
    json_t      *defs, *def, *value;
    const char  *key, *pname;

    defs = json_object_get(command, "paras");

    if (!json_is_array(defs)) {
        return NGX_OK;
    }

    json_object_foreach(paras, key, value) {
        def = ngx_http_iot_iotda_named(command, "paras", "para_name", key);

        if (def == NULL) {
            return ngx_http_iot_iotda_cmd_refuse(r, key,
                                                 "a parameter that the "
                                                 "command does not have");
        }

        if (ngx_http_iot_iotda_default(def, value) != NGX_OK) {
            return ngx_http_iot_iotda_cmd_refuse(r, key,
                                                 "a value that does not fit "
                                                 "its parameter (data type, "
                                                 "range, length, enum)");
        }
    }

    for (i = 0; i < json_array_size(defs); i++) {
        def = json_array_get(defs, i);
        pname = json_string_value(json_object_get(def, "para_name"));

        if (pname && json_is_true(json_object_get(def, "required"))
            && json_object_get(paras, pname) == NULL)
        {
            return ngx_http_iot_iotda_cmd_refuse(r, pname,
                                                 "a required parameter is "
                                                 "missing");
        }
    }

    return NGX_OK;
}


/* 400 IOTDA.000006 naming the parameter: "paras.<key>: <why>" */

static ngx_int_t
ngx_http_iot_iotda_cmd_refuse(ngx_http_request_t *r, const char *key,
    const char *why)
{
    u_char  *msg;
    size_t   n;

    n = sizeof("IOTDA.000006 paras.: ") + ngx_strlen(key) + ngx_strlen(why);

    msg = ngx_pnalloc(r->pool, n);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_snprintf(msg, n, "IOTDA.000006 paras.%s: %s%Z", key, why);

    return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST, (char *) msg);
}




/* in the writer, once the downlink has its id */

static ngx_int_t
ngx_http_iot_iotda_cmd_keep(ngx_iot_store_t *store,
    ngx_iot_downlink_batch_t *b, ngx_log_t *log)
{
    ngx_http_iot_iotda_cmd_t  *cmd = b->also_data;

    ngx_uint_t               i;
    ngx_iot_downlink_row_t  *rows;

    rows = b->rows.elts;

    for (i = 0; i < b->rows.nelts; i++) {
        if (ngx_iot_store_command_add(store, &rows[i], &cmd->command_id,
                                      &cmd->fields, log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * 200 {"command_id", "response": null} once the downlink was handed to
 * its transport (queued for one that waits for the device); a command
 * that could not go is answered as IoTDA answers one: an error (403
 * IOTDA.014016 for a device that is not online), with the command_id
 * beside it.  As for a message, what went is answered as such even when
 * the store could not keep it (the error log says why).
 */

static ngx_int_t
ngx_http_iot_iotda_cmd_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    json_t                    *o, *info, *e;
    ngx_uint_t                 status;
    const char                *code;
    ngx_http_iot_ctx_t        *ctx;
    ngx_iot_downlink_row_t    *row;
    ngx_http_iot_iotda_cmd_t  *cmd;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    cmd = ctx->answer_data;
    row = cmd->batch.rows.elts;

    if (row->state != NGX_IOT_DOWNLINK_FAILED
        && row->state != NGX_IOT_DOWNLINK_EXPIRED)
    {
        o = json_pack("{s:s%, s:n}",
                      "command_id", (char *) cmd->command_id.data,
                      cmd->command_id.len,
                      "response");
        if (o == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, o);
    }

    /* the error_info a message would have, as the answer's error */

    info = json_object();

    if (info == NULL || ngx_http_iot_iotda_msg_status(info, row) != NGX_OK) {
        json_decref(info);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    e = json_object_get(info, "error_info");
    code = json_string_value(json_object_get(e, "error_code"));

    status = (code && ngx_strcmp(code, "IOTDA.014016") == 0)
             ? NGX_HTTP_FORBIDDEN : NGX_HTTP_SERVICE_UNAVAILABLE;

    o = json_pack("{s:O, s:O, s:s%, s:n}",
                  "error_code", json_object_get(e, "error_code"),
                  "error_msg", json_object_get(e, "error_msg"),
                  "command_id", (char *) cmd->command_id.data,
                  cmd->command_id.len,
                  "response");

    json_decref(info);

    if (o == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, status, o);
}
