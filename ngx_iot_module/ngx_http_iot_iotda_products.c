
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's products (/v5/iot/{project_id}/products): create,
 * list, show, update, delete.  A product is a product of the registry
 * (ngx_iot_products.h) of one resource space (collection); its model (the
 * fields below and its service capabilities) is checked here and kept as
 * a JSON object.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_iotda.h"
#include "ngx_iot_products.h"


#define NGX_HTTP_IOT_IOTDA_SERVICES_MAX    500
#define NGX_HTTP_IOT_IOTDA_PROPERTIES_MAX  500


/* what a list takes */
typedef struct {
    ngx_iot_principal_t           *who;
    uint64_t                       cid;         /* app_id; 0: any */
} ngx_http_iot_iotda_pfilter_t;


static ngx_int_t ngx_http_iot_iotda_product_create(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_iotda_products_list(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_iotda_product_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static json_t *ngx_http_iot_iotda_product_json(ngx_http_request_t *r,
    ngx_iot_product_t *p, ngx_uint_t summary);
static void ngx_http_iot_iotda_model_free(void *data);
static ngx_int_t ngx_http_iot_iotda_model(ngx_http_request_t *r,
    json_t *body, json_t *model);
static ngx_int_t ngx_http_iot_iotda_services(ngx_http_request_t *r,
    json_t *services);
static ngx_int_t ngx_http_iot_iotda_property(ngx_http_request_t *r,
    json_t *prop);
static ngx_int_t ngx_http_iot_iotda_model_commands(
    ngx_http_request_t *r, json_t *commands);
static ngx_int_t ngx_http_iot_iotda_typed(ngx_http_request_t *r, json_t *o);
static ngx_uint_t ngx_http_iot_iotda_pmatch(ngx_iot_product_t *p,
    void *data);
static ngx_int_t ngx_http_iot_iotda_app(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_str_t *app_id, ngx_uint_t write,
    uint64_t *cid);
static void ngx_http_iot_iotda_json_cleanup(void *data);
static ngx_int_t ngx_http_iot_iotda_product_update(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_iot_product_t *p);


/* a text field: 1 to max characters (UTF-8), no control characters */

ngx_int_t
ngx_http_iot_iotda_text(ngx_http_request_t *r, json_t *obj, const char *name,
    ngx_uint_t required, size_t max, ngx_uint_t id_chars, ngx_str_t *out)
{
    u_char      *p, *msg, c;
    size_t       i, n;
    json_t      *v;
    const char  *why;

    out->len = 0;
    out->data = NULL;

    v = json_object_get(obj, name);

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
    out->data = p;
    out->len = json_string_length(v);

    n = 0;

    for (i = 0; i < out->len; i++) {
        c = p[i];

        if ((c & 0xc0) != 0x80) {
            n++;
        }

        if (c < 0x20 || c == 0x7f) {
            why = "must not hold control characters";
            goto invalid;
        }

        if (id_chars
            && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            why = "may hold only letters, digits, _ and -";
            goto invalid;
        }
    }

    if (n == 0 || n > max) {
        why = "has too few or too many characters";
        goto invalid;
    }

    return NGX_OK;

invalid:

    n = sizeof("IOTDA.000006  : at most  characters") + ngx_strlen(name)
        + ngx_strlen(why) + NGX_SIZE_T_LEN;

    msg = ngx_pnalloc(r->pool, n);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_snprintf(msg, n, "IOTDA.000006 %s %s (1 to %uz)%Z", name,
                        why, max);

    return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST, (char *) msg);
}


/* GET, POST /products */

ngx_int_t
ngx_http_iot_iotda_products(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    if (r->method == NGX_HTTP_POST) {
        return ngx_http_iot_iotda_product_create(r, ctx);
    }

    return ngx_http_iot_iotda_products_list(r, ctx);
}


/* GET, PUT, DELETE /products/{product_id} */

ngx_int_t
ngx_http_iot_iotda_product(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t             *json;
    ngx_iot_rc_e        rc;
    ngx_iot_wait_t     *wait;
    ngx_iot_product_t   p;

    rc = ngx_iot_product_get((ngx_cycle_t *) ngx_cycle, &ctx->seg[2],
                             r->pool, &p);

    if (rc == NGX_IOT_OK
        && !ngx_http_iot_iotda_reaches(&ctx->who, p.collection_id,
                                       r->method != NGX_HTTP_GET))
    {
        rc = NGX_IOT_NOT_FOUND;
    }

    if (rc == NGX_IOT_NOT_FOUND) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IOTDA.009002 the product does not "
                                  "exist");
    }

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the product cannot be read "
                                  "now");
    }

    if (r->method == NGX_HTTP_GET) {
        json = ngx_http_iot_iotda_product_json(r, &p, 0);
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, json);
    }

    if (r->method == NGX_HTTP_PUT) {
        return ngx_http_iot_iotda_product_update(r, ctx, &p);
    }

    wait = ngx_http_iot_waiter(r, ngx_http_iot_iotda_product_answer,
                               (void *) NGX_HTTP_NO_CONTENT);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iot_product_delete((ngx_cycle_t *) ngx_cycle, &ctx->seg[2],
                                p.collection_id, r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


static ngx_int_t
ngx_http_iot_iotda_product_create(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    u_char                     raw[12], *pid;
    json_t                    *model;
    size_t                     size;
    ngx_str_t                  s;
    ngx_iot_rc_e               rc;
    ngx_iot_wait_t            *wait;
    ngx_pool_cleanup_t        *cln;
    ngx_iot_product_change_t   ch;

    ngx_memzero(&ch, sizeof(ngx_iot_product_change_t));

    model = json_object();
    if (model == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        json_decref(model);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iot_iotda_json_cleanup;
    cln->data = model;

    if (ngx_http_iot_iotda_text(r, ctx->body, "product_id", 0,
                                NGX_IOT_PRODUCT_ID_MAX, 1, &ch.pid)
        != NGX_OK
        || ngx_http_iot_iotda_text(r, ctx->body, "app_id", 0, 36, 1, &s)
           != NGX_OK
        || ngx_http_iot_iotda_text(r, ctx->body, "name", 1, 64, 0, &ch.name)
           != NGX_OK
        || ngx_http_iot_iotda_model(r, ctx->body, model) != NGX_OK
        || ngx_http_iot_iotda_app(r, ctx, &s, 1, &ch.collection_id)
           != NGX_OK)
    {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    if (ch.pid.len == 0) {
        /* the platform's: 24 hex digits */

        if (ngx_iot_random(raw, sizeof(raw)) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        pid = ngx_pnalloc(r->pool, 2 * sizeof(raw));
        if (pid == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ch.pid.data = pid;
        ch.pid.len = ngx_hex_dump(pid, raw, sizeof(raw)) - pid;
    }

    size = json_dumpb(model, NULL, 0, JSON_COMPACT);

    ch.model.data = ngx_pnalloc(r->pool, size ? size : 1);
    if (ch.model.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ch.model.len = json_dumpb(model, (char *) ch.model.data, size,
                              JSON_COMPACT);

    wait = ngx_http_iot_waiter(r, ngx_http_iot_iotda_product_answer,
                               (void *) NGX_HTTP_CREATED);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iot_product_create((ngx_cycle_t *) ngx_cycle, &ch, r->pool,
                                &wait->out.p, r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


static void
ngx_http_iot_iotda_json_cleanup(void *data)
{
    json_decref(data);
}


/*
 * app_id: a resource space (collection) the credentials reach; absent:
 * the one they reach when they reach one alone.
 */

static ngx_int_t
ngx_http_iot_iotda_app(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_str_t *app_id, ngx_uint_t write, uint64_t *cid)
{
    if (app_id->len == 0) {
        if (!ctx->who.all && ctx->who.ncollections == 1) {
            *cid = ctx->who.collections[0];
            return NGX_OK;
        }

        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 app_id is required: "
                                          "the credentials reach more than "
                                          "one resource space");
    }

    if (ngx_iot_id_decode(app_id->data, app_id->len, cid) != NGX_OK
        || !ngx_iot_collection_exists((ngx_cycle_t *) ngx_cycle, *cid)
        || !ngx_http_iot_iotda_reaches(&ctx->who, *cid, write))
    {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_FORBIDDEN,
                                          "IOTDA.001000 the resource space "
                                          "(app_id) does not exist");
    }

    return NGX_OK;
}


/* the product's fields but its id and space: checked, into model */

static ngx_int_t
ngx_http_iot_iotda_model(ngx_http_request_t *r, json_t *body, json_t *model)
{
    json_t      *v;
    ngx_str_t    s;
    ngx_uint_t   i;

    static struct {
        const char  *name;
        ngx_uint_t   required;
        size_t       max;
    } texts[] = {
        { "name", 1, 64 },
        { "device_type", 1, 32 },
        { "manufacturer_name", 0, 32 },
        { "industry", 0, 64 },
        { "description", 0, 128 },
        { NULL, 0, 0 }
    };

    static const char  *protocols[] = {
        "MQTT", "CoAP", "HTTP", "HTTPS", "Modbus", "ONVIF", "OPC-UA",
        "OPC-DA", "Other", "TCP", "UDP", NULL
    };

    for (i = 0; texts[i].name; i++) {
        if (ngx_http_iot_iotda_text(r, body, texts[i].name,
                                    texts[i].required, texts[i].max, 0, &s)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        if (s.len
            && json_object_set_new(model, texts[i].name,
                                   json_stringn((char *) s.data, s.len))
               != 0)
        {
            return NGX_ERROR;
        }
    }

    v = json_object_get(body, "protocol_type");

    for (i = 0; v && json_is_string(v) && protocols[i]; i++) {
        if (ngx_strcmp(json_string_value(v), protocols[i]) == 0) {
            break;
        }
    }

    if (v == NULL || !json_is_string(v) || protocols[i] == NULL) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 protocol_type must "
                                          "be one of MQTT, CoAP, HTTP, "
                                          "HTTPS, Modbus, ONVIF, OPC-UA, "
                                          "OPC-DA, Other, TCP, UDP");
    }

    if (json_object_set(model, "protocol_type", v) != 0) {
        return NGX_ERROR;
    }

    v = json_object_get(body, "data_format");

    if (v == NULL || !json_is_string(v)
        || (ngx_strcmp(json_string_value(v), "json") != 0
            && ngx_strcmp(json_string_value(v), "binary") != 0))
    {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 data_format must be "
                                          "json or binary");
    }

    if (json_object_set(model, "data_format", v) != 0) {
        return NGX_ERROR;
    }

    v = json_object_get(body, "service_capabilities");

    if (ngx_http_iot_iotda_services(r, v) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (json_object_set(model, "service_capabilities", v) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * service_capabilities: 1 to 500 services, service_id unique; their
 * properties (property_name unique in the service) typed and checked;
 * commands (command_name unique) with their typed paras; events, when
 * given, an array of objects.
 */

static ngx_int_t
ngx_http_iot_iotda_services(ngx_http_request_t *r, json_t *services)
{
    size_t       i, j, k, n;
    json_t      *svc, *props, *other, *v;
    ngx_str_t    s;

    static const char  *options[] = { "Master", "Mandatory", "Optional",
                                      NULL };

    if (services == NULL || !json_is_array(services)
        || json_array_size(services) == 0
        || json_array_size(services) > NGX_HTTP_IOT_IOTDA_SERVICES_MAX)
    {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 service_capabilities "
                                          "must be an array of 1 to 500 "
                                          "services");
    }

    n = json_array_size(services);

    for (i = 0; i < n; i++) {
        svc = json_array_get(services, i);

        if (!json_is_object(svc)) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 a service must "
                                              "be an object");
        }

        if (ngx_http_iot_iotda_text(r, svc, "service_id", 1, 64, 0, &s)
            != NGX_OK
            || ngx_http_iot_iotda_text(r, svc, "service_type", 0, 64, 0, &s)
               != NGX_OK
            || ngx_http_iot_iotda_text(r, svc, "description", 0, 128, 0, &s)
               != NGX_OK)
        {
            return NGX_DECLINED;
        }

        for (j = 0; j < i; j++) {
            if (json_equal(json_object_get(json_array_get(services, j),
                                           "service_id"),
                           json_object_get(svc, "service_id")))
            {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                  "IOTDA.000006 service_id "
                                                  "must be unique");
            }
        }

        v = json_object_get(svc, "option");

        if (v && !json_is_null(v)) {
            for (k = 0; json_is_string(v) && options[k]; k++) {
                if (ngx_strcmp(json_string_value(v), options[k]) == 0) {
                    break;
                }
            }

            if (!json_is_string(v) || options[k] == NULL) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                  "IOTDA.000006 option must "
                                                  "be Master, Mandatory or "
                                                  "Optional");
            }
        }

        props = json_object_get(svc, "properties");

        if (props && !json_is_null(props)) {
            if (!json_is_array(props)
                || json_array_size(props) > NGX_HTTP_IOT_IOTDA_PROPERTIES_MAX)
            {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                  "IOTDA.000006 properties "
                                                  "must be an array of at "
                                                  "most 500");
            }

            for (j = 0; j < json_array_size(props); j++) {
                if (ngx_http_iot_iotda_property(r, json_array_get(props, j))
                    != NGX_OK)
                {
                    return NGX_DECLINED;
                }

                for (k = 0; k < j; k++) {
                    if (json_equal(json_object_get(json_array_get(props, k),
                                                   "property_name"),
                                   json_object_get(json_array_get(props, j),
                                                   "property_name")))
                    {
                        return ngx_http_iot_iotda_invalid(r,
                                   NGX_HTTP_BAD_REQUEST,
                                   "IOTDA.000006 property_name must be "
                                   "unique in its service");
                    }
                }
            }
        }

        if (ngx_http_iot_iotda_model_commands(r,
                                              json_object_get(svc,
                                                              "commands"))
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        other = json_object_get(svc, "events");

        if (other == NULL || json_is_null(other)) {
            continue;
        }

        if (!json_is_array(other)) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 events must be "
                                              "an array");
        }

        for (j = 0; j < json_array_size(other); j++) {
            if (!json_is_object(json_array_get(other, j))) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                  "IOTDA.000006 an event "
                                                  "must be an object");
            }
        }
    }

    return NGX_OK;
}


/* one property of a service */

static ngx_int_t
ngx_http_iot_iotda_property(ngx_http_request_t *r, json_t *prop)
{
    u_char       *p;
    size_t        i;
    json_t       *v;
    ngx_str_t     s;
    ngx_uint_t    seen, bit;

    if (!json_is_object(prop)) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 a property must be "
                                          "an object");
    }

    if (ngx_http_iot_iotda_text(r, prop, "property_name", 1, 64, 0, &s)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    p = (u_char *) json_string_value(json_object_get(prop,
                                                     "property_name"));

    for (i = 0; p[i]; i++) {
        if (p[i] == '.' || p[i] == '$') {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 property_name "
                                              "must not hold . or $");
        }
    }

    if (json_string_length(json_object_get(prop, "property_name")) != i) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 property_name must "
                                          "not hold NUL");
    }

    if (ngx_http_iot_iotda_typed(r, prop) != NGX_OK
        || ngx_http_iot_iotda_text(r, prop, "method", 0, 3, 0, &s) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /* method: R, W, E, each at most once */

    seen = 0;

    for (i = 0; i < s.len; i++) {
        bit = (s.data[i] == 'R') ? 1 : (s.data[i] == 'W') ? 2
              : (s.data[i] == 'E') ? 4 : 0;

        if (bit == 0 || (seen & bit)) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 method must be "
                                              "R, W, E or a combination");
        }

        seen |= bit;
    }

    v = json_object_get(prop, "default_value");

    if (v && !json_is_null(v)
        && ngx_http_iot_iotda_default(prop, v) != NGX_OK)
    {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 default_value does "
                                          "not fit the property's data_type, "
                                          "range or enum_list");
    }

    return NGX_OK;
}


/*
 * A service's commands: each an object with its command_name (1 to 64,
 * unique in the service), its paras (when given, an array of parameters
 * typed as properties are, para_name 1 to 32 and unique in the command)
 * and its responses, kept as given.
 */

static ngx_int_t
ngx_http_iot_iotda_model_commands(ngx_http_request_t *r, json_t *commands)
{
    size_t      i, j, k;
    json_t     *cmd, *paras, *para;
    ngx_str_t   s;

    if (commands == NULL || json_is_null(commands)) {
        return NGX_OK;
    }

    if (!json_is_array(commands)) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 commands must be an "
                                          "array");
    }

    for (i = 0; i < json_array_size(commands); i++) {
        cmd = json_array_get(commands, i);

        if (!json_is_object(cmd)) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 a command must "
                                              "be an object");
        }

        if (ngx_http_iot_iotda_text(r, cmd, "command_name", 1, 64, 0, &s)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        for (j = 0; j < i; j++) {
            if (json_equal(json_object_get(json_array_get(commands, j),
                                           "command_name"),
                           json_object_get(cmd, "command_name")))
            {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                  "IOTDA.000006 command_name "
                                                  "must be unique in its "
                                                  "service");
            }
        }

        paras = json_object_get(cmd, "paras");

        if (paras == NULL || json_is_null(paras)) {
            continue;
        }

        if (!json_is_array(paras)
            || json_array_size(paras) > NGX_HTTP_IOT_IOTDA_PROPERTIES_MAX)
        {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 a command's "
                                              "paras must be an array of at "
                                              "most 500");
        }

        for (j = 0; j < json_array_size(paras); j++) {
            para = json_array_get(paras, j);

            if (!json_is_object(para)) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                  "IOTDA.000006 a command's "
                                                  "parameter must be an "
                                                  "object");
            }

            if (ngx_http_iot_iotda_text(r, para, "para_name", 1, 32, 0, &s)
                != NGX_OK
                || ngx_http_iot_iotda_typed(r, para) != NGX_OK)
            {
                return NGX_DECLINED;
            }

            for (k = 0; k < j; k++) {
                if (json_equal(json_object_get(json_array_get(paras, k),
                                               "para_name"),
                               json_object_get(para, "para_name")))
                {
                    return ngx_http_iot_iotda_invalid(r,
                               NGX_HTTP_BAD_REQUEST,
                               "IOTDA.000006 para_name must be unique in "
                               "its command");
                }
            }
        }
    }

    return NGX_OK;
}


/*
 * What a property and a command's parameter share: data_type (known),
 * min and max, unit, description, required, max_length, step, enum_list.
 */

static ngx_int_t
ngx_http_iot_iotda_typed(ngx_http_request_t *r, json_t *o)
{
    size_t        i;
    json_t       *v;
    ngx_str_t     s, type;

    static const char  *types[] = {
        "int", "long", "decimal", "string", "DateTime", "jsonObject",
        "enum", "boolean", "string list", NULL
    };

    if (ngx_http_iot_iotda_text(r, o, "data_type", 1, 16, 0, &type)
        != NGX_OK
        || ngx_http_iot_iotda_text(r, o, "min", 0, 16, 0, &s) != NGX_OK
        || ngx_http_iot_iotda_text(r, o, "max", 0, 16, 0, &s) != NGX_OK
        || ngx_http_iot_iotda_text(r, o, "unit", 0, 16, 0, &s) != NGX_OK
        || ngx_http_iot_iotda_text(r, o, "description", 0, 128, 0, &s)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    for (i = 0; types[i]; i++) {
        if (type.len == ngx_strlen(types[i])
            && ngx_strncmp(type.data, types[i], type.len) == 0)
        {
            break;
        }
    }

    if (types[i] == NULL) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 data_type must be "
                                          "int, long, decimal, string, "
                                          "DateTime, jsonObject, enum, "
                                          "boolean or string list");
    }

    v = json_object_get(o, "required");

    if (v && !json_is_null(v) && !json_is_boolean(v)) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 required must be "
                                          "true or false");
    }

    v = json_object_get(o, "max_length");

    if (v && !json_is_null(v)
        && (!json_is_integer(v) || json_integer_value(v) < 0))
    {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 max_length must be a "
                                          "number of 0 or more");
    }

    v = json_object_get(o, "step");

    if (v && !json_is_null(v) && !json_is_number(v)) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 step must be a "
                                          "number");
    }

    v = json_object_get(o, "enum_list");

    if (v && !json_is_null(v)) {
        if (!json_is_array(v)) {
            goto bad_enum;
        }

        for (i = 0; i < json_array_size(v); i++) {
            if (!json_is_string(json_array_get(v, i))) {
                goto bad_enum;
            }
        }
    }

    return NGX_OK;

bad_enum:

    return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                      "IOTDA.000006 enum_list must be an "
                                      "array of strings");
}


/*
 * The item of o's array list whose field is name (a model's service by
 * service_id, a service's property, command, a command's parameter), or
 * NULL.
 */

json_t *
ngx_http_iot_iotda_named(json_t *o, const char *list, const char *field,
    const char *name)
{
    size_t       i;
    json_t      *a, *item;
    const char  *s;

    a = json_object_get(o, list);

    for (i = 0; json_is_array(a) && i < json_array_size(a); i++) {
        item = json_array_get(a, i);
        s = json_string_value(json_object_get(item, field));

        if (s && ngx_strcmp(s, name) == 0) {
            return item;
        }
    }

    return NULL;
}


/*
 * Does a value fit a property, or a command's parameter (its data_type,
 * min/max, max_length, enum)?
 */

ngx_int_t
ngx_http_iot_iotda_default(json_t *prop, json_t *v)
{
    double       d, lim;
    size_t       i;
    json_t      *e;
    const char  *type, *s;

    type = json_string_value(json_object_get(prop, "data_type"));

    if (ngx_strcmp(type, "int") == 0 || ngx_strcmp(type, "long") == 0) {
        if (!json_is_integer(v)) {
            return NGX_DECLINED;
        }

        d = (double) json_integer_value(v);
        goto range;
    }

    if (ngx_strcmp(type, "decimal") == 0) {
        if (!json_is_number(v)) {
            return NGX_DECLINED;
        }

        d = json_number_value(v);
        goto range;
    }

    if (ngx_strcmp(type, "boolean") == 0) {
        return json_is_boolean(v) ? NGX_OK : NGX_DECLINED;
    }

    if (ngx_strcmp(type, "jsonObject") == 0) {
        return json_is_object(v) ? NGX_OK : NGX_DECLINED;
    }

    if (ngx_strcmp(type, "string list") == 0) {
        if (!json_is_array(v)) {
            return NGX_DECLINED;
        }

        for (i = 0; i < json_array_size(v); i++) {
            if (!json_is_string(json_array_get(v, i))) {
                return NGX_DECLINED;
            }
        }

        return NGX_OK;
    }

    /* string, DateTime, enum */

    if (!json_is_string(v)) {
        return NGX_DECLINED;
    }

    e = json_object_get(prop, "max_length");

    if (json_is_integer(e)
        && json_string_length(v) > (size_t) json_integer_value(e))
    {
        return NGX_DECLINED;
    }

    if (ngx_strcmp(type, "enum") == 0) {
        e = json_object_get(prop, "enum_list");

        for (i = 0; json_is_array(e) && i < json_array_size(e); i++) {
            if (json_equal(json_array_get(e, i), v)) {
                return NGX_OK;
            }
        }

        return NGX_DECLINED;
    }

    return NGX_OK;

range:

    for (i = 0; i < 2; i++) {
        s = json_string_value(json_object_get(prop, i ? "max" : "min"));

        if (s == NULL) {
            continue;
        }

        lim = strtod(s, NULL);

        if ((i == 0 && d < lim) || (i == 1 && d > lim)) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* the answer to a write, once it is durable (or failed) */

static ngx_int_t
ngx_http_iot_iotda_product_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    json_t              *json;
    ngx_uint_t           status;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    status = (ngx_uint_t) ctx->answer_data;

    switch (rc) {

    case NGX_IOT_OK:
        break;

    case NGX_IOT_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IOTDA.009002 the product does not "
                                  "exist");

    case NGX_IOT_EXISTS:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "IOTDA.009001 a product with this "
                                  "product_id exists");

    case NGX_IOT_NOT_EMPTY:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "IOTDA.009003 devices use the product: "
                                  "delete them first");

    case NGX_IOT_COLLECTION_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                  "IOTDA.001000 the resource space (app_id) "
                                  "does not exist");

    case NGX_IOT_ZONE_FULL:
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the registry is full: "
                                  "nothing was changed");

    case NGX_IOT_RETIRED:
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 nginx is reloading: try "
                                  "again");

    default:
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the store cannot be written: "
                                  "nothing was changed");
    }

    if (status == NGX_HTTP_NO_CONTENT) {
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    json = ngx_http_iot_iotda_product_json(r, &ctx->wait.out.p, 0);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, status, json);
}


/* a product: its model and its ids, space and time */

static json_t *
ngx_http_iot_iotda_product_json(ngx_http_request_t *r, ngx_iot_product_t *p,
    ngx_uint_t summary)
{
    u_char                 text[NGX_IOT_ID_LEN + sizeof("yyyyMMddTHHmmssZ")];
    u_char                *last;
    json_t                *o;
    ngx_str_t              app_name;
    ngx_uint_t             fail;
    json_error_t           err;
    ngx_iot_collection_t   c;

    static ngx_str_t  key = ngx_string("name");

    o = json_loadb((char *) p->model.data, p->model.len, 0, &err);

    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        o = json_object();
        if (o == NULL) {
            return NULL;
        }
    }

    ngx_str_null(&app_name);

    if (ngx_iot_collection_get((ngx_cycle_t *) ngx_cycle, p->collection_id,
                               r->pool, &c)
        == NGX_IOT_OK
        && ngx_iot_tags_get(&c.tags, &key, r->pool, &app_name) == NGX_ERROR)
    {
        json_decref(o);
        return NULL;
    }

    fail = 0;

    last = ngx_iot_id_encode(text, p->collection_id);
    fail |= json_object_set_new(o, "app_id",
                                json_stringn((char *) text, last - text));
    fail |= json_object_set_new(o, "app_name",
                                json_stringn(app_name.len
                                             ? (char *) app_name.data : "",
                                             app_name.len));
    fail |= json_object_set_new(o, "product_id",
                                json_stringn((char *) p->pid, p->pid_len));

    last = ngx_http_iot_iotda_time(text, p->created_at);
    fail |= json_object_set_new(o, "create_time",
                                json_stringn((char *) text, last - text));

    if (summary) {
        (void) json_object_del(o, "service_capabilities");
    }

    if (fail) {
        json_decref(o);
        return NULL;
    }

    return o;
}


/* GET /products: app_id, limit, marker, offset, as devices are listed */

static ngx_int_t
ngx_http_iot_iotda_products_list(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    u_char                        marker[24];
    json_t                       *o, *list, *page, *item;
    uint64_t                      after;
    ngx_int_t                     rc;
    ngx_str_t                     app_id;
    ngx_uint_t                    limit, offset, found, count, i, fail;
    ngx_iot_product_t            *out;
    ngx_http_iot_iotda_pfilter_t  f;

    f.who = &ctx->who;
    f.cid = 0;

    rc = ngx_http_iot_iotda_page_args(r, &after, &limit, &offset, &app_id);

    if (rc == NGX_OK && app_id.len) {
        rc = ngx_http_iot_iotda_app(r, ctx, &app_id, 0, &f.cid);
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    out = ngx_palloc(r->pool, (offset + limit) * sizeof(ngx_iot_product_t));
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_iot_product_select((ngx_cycle_t *) ngx_cycle, after,
                               ngx_http_iot_iotda_pmatch, &f, r->pool, out,
                               offset + limit, &found, &count)
        != NGX_IOT_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the products cannot be read "
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

    fail = (json_object_set_new(o, "products", list) != 0);

    for (i = offset; i < found; i++) {
        item = ngx_http_iot_iotda_product_json(r, &out[i], 1);
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


static ngx_uint_t
ngx_http_iot_iotda_pmatch(ngx_iot_product_t *p, void *data)
{
    ngx_http_iot_iotda_pfilter_t  *f = data;

    return (f->cid == 0 || p->collection_id == f->cid)
           && ngx_http_iot_iotda_reaches(f->who, p->collection_id, 0);
}


/*
 * PUT: the fields given replace the product's (those absent or null
 * stay), and the product that results is checked as a new one is.
 * product_id and app_id, when given, must be the product's own.
 */

static ngx_int_t
ngx_http_iot_iotda_product_update(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_iot_product_t *p)
{
    u_char                     text[NGX_IOT_ID_LEN];
    size_t                     size;
    json_t                    *cur, *merged, *model, *v;
    ngx_int_t                  checked;
    ngx_str_t                  s;
    ngx_uint_t                 i;
    ngx_iot_rc_e               rc;
    json_error_t               err;
    ngx_iot_wait_t            *wait;
    ngx_pool_cleanup_t        *cln;
    ngx_iot_product_change_t   ch;

    static const char  *fields[] = {
        "name", "device_type", "protocol_type", "data_format",
        "service_capabilities", "manufacturer_name", "industry",
        "description", NULL
    };

    if (ngx_http_iot_iotda_text(r, ctx->body, "product_id", 0,
                                NGX_IOT_PRODUCT_ID_MAX, 1, &s)
        != NGX_OK)
    {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    if (s.len && (s.len != p->pid_len || ngx_memcmp(s.data, p->pid, s.len)))
    {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000006 product_id is the path's: "
                                  "a product's id does not change");
    }

    if (ngx_http_iot_iotda_text(r, ctx->body, "app_id", 0, 36, 1, &s)
        != NGX_OK)
    {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    if (s.len
        && (s.len != (size_t) (ngx_iot_id_encode(text, p->collection_id)
                               - text)
            || ngx_memcmp(s.data, text, s.len) != 0))
    {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000006 app_id is the product's "
                                  "resource space: a product does not "
                                  "move");
    }

    model = json_object();
    cur = json_loadb((char *) p->model.data, p->model.len, 0, &err);

    if (cur == NULL || !json_is_object(cur)) {
        json_decref(cur);
        cur = json_object();
    }

    merged = json_deep_copy(cur);
    json_decref(cur);

    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (model == NULL || merged == NULL || cln == NULL) {
        json_decref(model);
        json_decref(merged);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iot_iotda_json_cleanup;
    cln->data = model;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        json_decref(merged);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iot_iotda_json_cleanup;
    cln->data = merged;

    for (i = 0; fields[i]; i++) {
        v = json_object_get(ctx->body, fields[i]);

        if (v && !json_is_null(v)
            && json_object_set(merged, fields[i], v) != 0)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    checked = ngx_http_iot_iotda_model(r, merged, model);

    if (checked == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (checked != NGX_OK) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    ngx_memzero(&ch, sizeof(ngx_iot_product_change_t));

    ch.pid.data = p->pid;
    ch.pid.len = p->pid_len;

    v = json_object_get(model, "name");
    ch.name.data = (u_char *) json_string_value(v);
    ch.name.len = json_string_length(v);

    size = json_dumpb(model, NULL, 0, JSON_COMPACT);

    ch.model.data = ngx_pnalloc(r->pool, size ? size : 1);
    if (ch.model.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ch.model.len = json_dumpb(model, (char *) ch.model.data, size,
                              JSON_COMPACT);

    /* the name lives in the pool: model goes at the request's end */

    s.data = ngx_pnalloc(r->pool, ch.name.len ? ch.name.len : 1);
    if (s.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s.len = ch.name.len;
    ngx_memcpy(s.data, ch.name.data, s.len);
    ch.name = s;

    wait = ngx_http_iot_waiter(r, ngx_http_iot_iotda_product_answer,
                               (void *) NGX_HTTP_OK);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iot_product_update((ngx_cycle_t *) ngx_cycle, &ch,
                                p->collection_id, r->pool, &wait->out.p,
                                r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


/*
 * A product's model as JSON, parsed once a worker: the last few models
 * used are kept with their text, and a text that is the same again (the
 * product not changed) gets the same tree.  The tree is shared, read
 * only; the caller's reference goes with the request's pool.
 */

#define NGX_HTTP_IOT_IOTDA_MODELS  8

typedef struct {
    u_char                    *text;
    size_t                     len;
    json_t                    *json;

    /* a new device's doc of the defaults alone, and its event_time */
    u_char                    *initial;
    size_t                     initial_len;
    ngx_uint_t                 initial_times;
    u_char                     initial_time[sizeof("yyyyMMddTHHmmssZ") - 1];
} ngx_http_iot_iotda_model_t;


static ngx_http_iot_iotda_model_t  ngx_http_iot_iotda_models
                                       [NGX_HTTP_IOT_IOTDA_MODELS];
static ngx_uint_t                  ngx_http_iot_iotda_models_next;


json_t *
ngx_http_iot_iotda_model_json(ngx_http_request_t *r, u_char *text,
    size_t len)
{
    u_char                      *copy;
    json_t                      *json;
    ngx_uint_t                   i;
    ngx_pool_cleanup_t          *cln;
    ngx_http_iot_iotda_model_t  *m;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    json = NULL;

    for (i = 0; i < NGX_HTTP_IOT_IOTDA_MODELS; i++) {
        m = &ngx_http_iot_iotda_models[i];

        if (m->json && m->len == len && ngx_memcmp(m->text, text, len) == 0)
        {
            json = json_incref(m->json);
            break;
        }
    }

    if (json == NULL) {
        json = json_loadb((char *) text, len, 0, NULL);
        if (json == NULL) {
            return NULL;
        }

        copy = ngx_alloc(len ? len : 1, r->connection->log);

        if (copy) {
            m = &ngx_http_iot_iotda_models[ngx_http_iot_iotda_models_next];
            ngx_http_iot_iotda_models_next = (ngx_http_iot_iotda_models_next
                                              + 1)
                                             % NGX_HTTP_IOT_IOTDA_MODELS;
            if (m->json) {
                json_decref(m->json);
                ngx_free(m->text);
            }

            if (m->initial) {
                ngx_free(m->initial);
                m->initial = NULL;
            }

            m->text = copy;
            m->len = len;
            ngx_memcpy(copy, text, len);
            m->json = json_incref(json);
        }
    }

    cln->handler = ngx_http_iot_iotda_model_free;
    cln->data = json;

    return json;
}


static void
ngx_http_iot_iotda_model_free(void *data)
{
    json_decref(data);
}


/*
 * At a worker's exit: the module is unloaded then, and what its static
 * table holds would be lost (valgrind, t/77).
 */

void
ngx_http_iot_iotda_models_free(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i;
    ngx_http_iot_iotda_model_t  *m;

    for (i = 0; i < NGX_HTTP_IOT_IOTDA_MODELS; i++) {
        m = &ngx_http_iot_iotda_models[i];

        if (m->json) {
            json_decref(m->json);
            ngx_free(m->text);
            m->json = NULL;
            m->text = NULL;
            m->len = 0;
        }

        if (m->initial) {
            ngx_free(m->initial);
            m->initial = NULL;
        }
    }
}


/*
 * A new device's doc when the product's defaults are all that goes into
 * it (the request gives no shadow, extension_info or fingerprint): the
 * model's initial shadow is made once a worker and kept as text, then
 * given the time of each device made.  A kept text is used only when its
 * event_times are exactly one per service entry (no default value looks
 * like one).
 */

ngx_int_t
ngx_http_iot_iotda_model_initial(ngx_http_request_t *r, u_char *text,
    size_t len, ngx_str_t *doc)
{
    u_char                      *p, *last, now[sizeof("yyyyMMddTHHmmssZ")];
    json_t                      *json, *d, *shadow;
    ngx_int_t                    rc;
    ngx_uint_t                   i, n;
    ngx_http_iot_iotda_model_t  *m;

    static u_char  key[] = "\"event_time\":\"";

    json = ngx_http_iot_iotda_model_json(r, text, len);
    if (json == NULL) {
        return NGX_ERROR;
    }

    m = NULL;

    for (i = 0; i < NGX_HTTP_IOT_IOTDA_MODELS; i++) {
        if (ngx_http_iot_iotda_models[i].json == json) {
            m = &ngx_http_iot_iotda_models[i];
            break;
        }
    }

    if (m && m->initial) {
        doc->data = ngx_pnalloc(r->pool, m->initial_len);
        if (doc->data == NULL) {
            return NGX_ERROR;
        }

        doc->len = m->initial_len;
        ngx_memcpy(doc->data, m->initial, m->initial_len);

        (void) ngx_http_iot_iotda_time(now, ngx_iot_now_ms());

        p = doc->data;
        last = doc->data + doc->len;

        for (i = 0; i < m->initial_times; i++) {
            p = ngx_strlcasestrn(p, last, key, sizeof(key) - 2);
            if (p == NULL) {
                return NGX_ERROR;
            }

            p += sizeof(key) - 1;
            ngx_memcpy(p, now, sizeof(m->initial_time));
        }

        return NGX_OK;
    }

    d = json_object();
    if (d == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_iot_iotda_shadow_initial(r, json, NULL, d);

    if (rc != NGX_OK
        || ngx_http_iot_iotda_json_text(r->pool, d, doc) != NGX_OK)
    {
        json_decref(d);
        return NGX_ERROR;
    }

    shadow = json_object_get(d, "shadow");
    n = json_is_array(shadow) ? json_array_size(shadow) : 0;
    json_decref(d);

    if (m == NULL) {
        return NGX_OK;
    }

    /* kept when its event_times are those of the service entries alone */

    p = doc->data;
    last = doc->data + doc->len;

    for (i = 0; ; i++) {
        p = ngx_strlcasestrn(p, last, key, sizeof(key) - 2);
        if (p == NULL) {
            break;
        }

        p += sizeof(key) - 1;

        if (i == 0) {
            if (last - p < (ssize_t) sizeof(m->initial_time)) {
                return NGX_OK;
            }

            ngx_memcpy(m->initial_time, p, sizeof(m->initial_time));

        } else if (last - p < (ssize_t) sizeof(m->initial_time)
                   || ngx_memcmp(p, m->initial_time,
                                 sizeof(m->initial_time)) != 0)
        {
            return NGX_OK;
        }
    }

    if (i != n) {
        return NGX_OK;
    }

    m->initial = ngx_alloc(doc->len ? doc->len : 1, r->connection->log);

    if (m->initial) {
        ngx_memcpy(m->initial, doc->data, doc->len);
        m->initial_len = doc->len;
        m->initial_times = n;
    }

    return NGX_OK;
}
